// How the built-in components stage a batch over what they have committed.
export { Referrers, StagedMap } from './staged-map.js';
