/** The peerd version, reported by `peerd status`, the API and identify's agent version. */
export const VERSION = '0.1.0'
