/** This front end's release; must match package.json's "version" (a jest test checks) and the server's. */
export const FRONTEND_VERSION = '0.1.0';
