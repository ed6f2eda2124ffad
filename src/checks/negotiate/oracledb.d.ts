// Minimal typing of the part of oracledb (Thin mode) that the oracle check uses; the package ships no types.
declare module 'oracledb' {
  interface OracleConnection {
    execute(sql: string): Promise<{ rows?: unknown[]; rowsAffected?: number }>;
    close(): Promise<void>;
  }
  interface OracleDb {
    getConnection(attrs: {
      user: string;
      password: string;
      connectString: string;
      connectTimeout?: number;
      transportConnectTimeout?: number;
    }): Promise<OracleConnection>;
  }
  const oracledb: OracleDb;
  export default oracledb;
}
