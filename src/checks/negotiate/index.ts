/**
 * negotiateModules: the protocol checks of service= other than http, https, http_proxy and simpletcp
 * (those live in src/checks/). One file per protocol; line protocols run through line-script.ts.
 */
import type { ServiceName } from '../../model/config.js';
import type { CheckModule } from '../types.js';
import { dns } from './dns.js';
import { ftp } from './ftp.js';
import { imap, imaps } from './imap.js';
import { ldap, ldaps } from './ldap.js';
import { nntp } from './nntp.js';
import { pop, pops } from './pop.js';
import { radius } from './radius.js';
import { sip } from './sip.js';
import { smtp, submission } from './smtp.js';
import { mysql, oracle, pgsql } from './sql.js';

/** The services whose check lives in this folder (all but the http family, simpletcp and none). */
export type NegotiateService = Exclude<ServiceName, 'http' | 'https' | 'http_proxy' | 'simpletcp' | 'none'>;

/** negotiateModules maps each service this folder implements to its CheckModule. */
export const negotiateModules: Readonly<Record<NegotiateService, CheckModule>> = {
  dns, ftp, imap, imaps, ldap, ldaps, mysql, nntp, oracle, pgsql, pop, pops, radius, sip, smtp, submission,
};
