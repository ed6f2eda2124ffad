/**
 * mysql, pgsql, oracle (check_sql, DBI): login and request (minus its "/") are required (else down with
 * the original's error text); connect to <database> on the real with login/passwd, run the statement
 * twice; up iff the second run yields at least one row (or, for a non-SELECT, affects one).
 * Unlike the original (no timeout at all), the whole check is bounded by the negotiate timeout.
 */
import type { CheckModule, CheckTarget, CheckContext, CheckResult } from '../types.js';
import { CheckError, describeError, type Trail } from '../result.js';
import { hostPort } from '../target.js';
import { MAX_BODY_BYTES, backupTimeoutMs, meteredSocket, runNegotiation, stripSlash } from './common.js';

/** SqlSession is the small driver surface the check needs. */
interface SqlSession {
  /** rows: the number of rows the statement returned (or affected). */
  rows(query: string): Promise<number>;
  close(): Promise<void>;
}

type Opener = (target: CheckTarget, ctx: CheckContext, trail: Trail, signal: AbortSignal) => Promise<SqlSession>;

/** SQL_MISSING_MESSAGE is the original's complaint when login or request is missing. */
export const SQL_MISSING_MESSAGE = 'Must specify a login and request string for MySQL, Oracle and PostgreSQL checks';

function sqlModule(name: string, open: Opener): CheckModule {
  return {
    name,
    run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
      return runNegotiation(ctx, async (trail, signal) => {
        const query = stripSlash(target.request);
        if (target.virtual.login === '' || query === '') return trail.down('internal', SQL_MISSING_MESSAGE);
        trail.add(`connect ${name} ${hostPort(target.ip, target.port)} db ${JSON.stringify(target.virtual.database)} as ${target.virtual.login}`);
        let session: SqlSession;
        try {
          session = await open(target, ctx, trail, signal);
        } catch (err) {
          if (err instanceof CheckError || signal.aborted) throw err;
          const code = String((err as { code?: unknown }).code ?? '');
          if (/^E(CONNREFUSED|HOSTUNREACH|NETUNREACH|CONNRESET)$/.test(code) && !trail.connected) throw err;
          throw new CheckError(trail.connected ? 'l7-bad-status' : 'l4-refused', `login failed: ${describeError(err)}`);
        }
        const onAbort = () => void session.close().catch(() => undefined);
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          let rows: number;
          try {
            await session.rows(query);
            rows = await session.rows(query);
          } catch (err) {
            if (err instanceof CheckError || signal.aborted) throw err;
            throw new CheckError('l7-bad-response', `query failed: ${describeError(err)}`);
          }
          return rows > 0 ? trail.up(`${rows} row(s)`) : trail.down('l7-no-match', 'query returned no rows');
        } finally {
          signal.removeEventListener('abort', onAbort);
          await session.close().catch(() => undefined);
        }
      });
    },
  };
}

/** credentials: where and as whom the mysql and pgsql drivers log in (no database: the login's default). */
function credentials(target: CheckTarget): { host: string; port: number; user: string; password: string; database?: string } {
  const v = target.virtual;
  return { host: target.ip, port: target.port, user: v.login, password: v.passwd, database: v.database === '' ? undefined : v.database };
}

const openMysql: Opener = async (target, ctx, trail) => {
  const mysql = await import('mysql2/promise');
  const conn = await mysql.createConnection({
    ...credentials(target),
    connectTimeout: backupTimeoutMs(ctx),
    stream: () => {
      const s = meteredSocket(MAX_BODY_BYTES, trail);
      s.connect({ host: target.ip, port: target.port });
      return s;
    },
  });
  // A pooled-less connection emits 'error' on a late network fault; the check has its own verdict.
  conn.on('error', () => undefined);
  return {
    async rows(query) {
      const [res] = await conn.query(query);
      if (Array.isArray(res)) return res.length;
      return Number((res as { affectedRows?: number }).affectedRows ?? 0);
    },
    close: async () => conn.destroy(),
  };
};

const openPg: Opener = async (target, ctx, trail) => {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    ...credentials(target),
    connectionTimeoutMillis: backupTimeoutMs(ctx),
    stream: () => meteredSocket(MAX_BODY_BYTES, trail),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    async rows(query) {
      const res = await client.query(query);
      return res.rowCount ?? res.rows.length;
    },
    close: () => client.end(),
  };
};

/** oracleConnectString: a descriptor naming the SID, as DBD::Oracle's `sid=<database>` does. */
export function oracleConnectString(ip: string, port: number, sid: string): string {
  return `(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=${ip})(PORT=${port}))(CONNECT_DATA=(SID=${sid})))`;
}

const openOracle: Opener = async (target, ctx, trail, signal) => {
  const { default: oracledb } = await import('oracledb');
  const v = target.virtual;
  const seconds = Math.max(1, Math.ceil(ctx.timeoutMs / 1000));
  const pending = oracledb.getConnection({
    user: v.login,
    password: v.passwd,
    connectString: oracleConnectString(target.ip, target.port, v.database),
    connectTimeout: seconds,
    transportConnectTimeout: seconds,
  });
  // oracledb cannot be cancelled mid-login: if the deadline wins, close whatever arrives later.
  signal.addEventListener('abort', () => void pending.then((c) => c.close()).catch(() => undefined), { once: true });
  const conn = await pending;
  trail.connected = true;
  return {
    async rows(query) {
      // DBD::Oracle's rows() after one fetch: 1 when a row came back.
      const res = await conn.execute(query);
      if (res.rows) return res.rows.length > 0 ? 1 : 0;
      return res.rowsAffected ?? 0;
    },
    close: () => conn.close(),
  };
};

/** mysql negotiate check (mysql2). */
export const mysql = sqlModule('mysql', openMysql);
/** pgsql negotiate check (pg). */
export const pgsql = sqlModule('pgsql', openPg);
/** oracle negotiate check (oracledb in Thin mode, pure JS). */
export const oracle = sqlModule('oracle', openOracle);
