/** TLS files loaded and checked by the host (see `loadTlsMaterial`). PEM strings / buffers. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  /** SNI / hostname to verify, when it differs from the endpoint host. */
  servername?: string;
  /** Default true; false only for explicit `insecure_skip_verify` configs. */
  rejectUnauthorized: boolean;
}
