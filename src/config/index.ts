/** The config parser's public surface. */
export { parseConfigFile, parseConfigText, type ParseOptions } from './parse.js';
export { dumpConfig, formatWarning, MASK } from './dump.js';
export { systemResolver, hostsFileResolver, type Resolver } from './resolver.js';
