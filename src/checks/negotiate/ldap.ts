/**
 * ldap and ldaps (check_ldap, Net::LDAP): connect (ldaps: TLS without verification), bind with
 * login/passwd when both are set else anonymously, then a base-scope search of `request` minus its "/"
 * with filter (objectClass=*); up iff exactly one entry comes back and, when receive is set, its DN
 * matches receive. The original counted a connect or bind failure twice (it called down twice); a
 * CheckResult is one failure, so that quirk is not reproduced.
 */
import type { CheckModule, CheckTarget, CheckContext, CheckResult } from '../types.js';
import { CheckError, describeError } from '../result.js';
import { hostPort } from '../target.js';
import { loadTls } from '../net.js';
import { MAX_BODY_BYTES, backupTimeoutMs, meteredSocket, receiveMatches, receiveRegex, runNegotiation, stripSlash } from './common.js';

/** ldapts is loaded on the first LDAP check (a daemon without LDAP checks need not pay for it). */
let ldaptsLoad: Promise<typeof import('ldapts')> | undefined;
const loadLdapts = (): Promise<typeof import('ldapts')> => (ldaptsLoad ??= import('ldapts'));

function ldapModule(name: 'ldap' | 'ldaps'): CheckModule {
  return {
    name,
    async run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
      // Loaded before the negotiate deadline starts, as when the whole folder was loaded on first use.
      const [{ Client }, tls] = await Promise.all([loadLdapts(), loadTls()]);
      return runNegotiation(ctx, async (trail, signal) => {
        const v = target.virtual;
        const url = `${name}://${hostPort(target.ip, target.port)}`;
        trail.add(`connect ${url}`);
        const noVerify = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
        // ldapts treats any tlsOptions as "use TLS", so they are given for ldaps only. Both factories
        // hand ldapts a byte-metered socket to the real (ldapts calls them as (port, host[, tls])).
        const client = new Client({
          url,
          timeout: backupTimeoutMs(ctx),
          connectTimeout: backupTimeoutMs(ctx),
          ...(name === 'ldaps' ? { tlsOptions: noVerify } : {}),
          createConnection: (() => {
            const s = meteredSocket(MAX_BODY_BYTES, trail);
            s.connect({ host: target.ip, port: target.port });
            return s;
          }) as never,
          createSecureConnection: (() => {
            const raw = meteredSocket(MAX_BODY_BYTES, trail);
            raw.on('error', () => undefined);
            raw.connect({ host: target.ip, port: target.port });
            return tls.connect({ socket: raw, ...noVerify });
          }) as never,
        });
        const onAbort = () => void client.unbind().catch(() => undefined);
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          try {
            if (v.login !== '' && v.passwd !== '') await client.bind(v.login, v.passwd);
            else await client.bind('', '');
          } catch (err) {
            if (err instanceof CheckError) throw err;
            throw new CheckError(trail.connected ? 'l7-bad-status' : 'l4-refused', `bind failed: ${describeError(err)}`);
          }
          trail.add(v.login !== '' && v.passwd !== '' ? `bound as ${v.login}` : 'bound anonymously');
          const base = stripSlash(target.request);
          let entries;
          try {
            ({ searchEntries: entries } = await client.search(base, { scope: 'base', filter: '(objectClass=*)' }));
          } catch (err) {
            if (err instanceof CheckError) throw err;
            throw new CheckError('l7-bad-response', `search ${JSON.stringify(base)}: ${describeError(err)}`);
          }
          if (entries.length !== 1) return trail.down('l7-bad-response', `search ${JSON.stringify(base)}: ${entries.length} entries, want 1`);
          const dn = entries[0]!.dn;
          trail.add(`entry ${dn}`);
          // The original tests receive against /.+/ first: a receive without any non-newline char is "unset".
          if (!/.+/.test(target.receive)) return trail.up();
          return receiveMatches(receiveRegex(target.receive), dn)
            ? trail.up('receive matched')
            : trail.down('l7-no-match', `DN does not match receive ${JSON.stringify(target.receive)}`);
        } finally {
          signal.removeEventListener('abort', onAbort);
          await client.unbind().catch(() => undefined);
        }
      });
    },
  };
}

/** ldap negotiate check. */
export const ldap = ldapModule('ldap');
/** ldaps negotiate check (LDAP over TLS, no verification). */
export const ldaps = ldapModule('ldaps');
