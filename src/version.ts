/** The daemon's version, reported by --version, build_info and the resource. Keep in step with package.json. */
export const VERSION = '0.1.0';
