// Growth curves of paths beyond the registry, boot planning and the bus core: each area's paths in
// its own file, run by bench/cases/curves.ts after the others.
import type { Path } from '../curve-kit.js';
import { CHANNEL_PATHS } from './channels.js';

export const EXTRA_PATHS: readonly Path[] = [...CHANNEL_PATHS];
