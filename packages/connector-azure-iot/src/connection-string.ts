import { ConfigError } from '@bifrost/core';

/** The parts of a device or module connection string the connector uses. */
export interface DeviceConnection {
  hostName: string;
  deviceId: string;
  moduleId?: string;
  gatewayHostName?: string;
  /** How the device authenticates. */
  auth: 'key' | 'token' | 'x509';
  /** The fixed token of `SharedAccessSignature=` (auth `token`). */
  sharedAccessSignature?: string;
}

const KNOWN = new Set([
  'HostName',
  'DeviceId',
  'ModuleId',
  'SharedAccessKey',
  'SharedAccessKeyName',
  'SharedAccessSignature',
  'GatewayHostName',
  'x509',
]);

function fail(problem: string): never {
  throw new ConfigError(`connection_string: ${problem}`, { code: 'BIFROST_ERR_AZURE_IOT_CONNECTION_STRING' });
}

/**
 * Reads a device connection string (`Key=Value;...`) and checks it fits `x509`: a key or a token
 * without it, neither with it. Errors name the connection-string field, never a secret's value.
 */
export function parseConnectionString(text: string, x509: boolean): DeviceConnection {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) fail(`"${part.slice(0, 20)}..." is not Key=Value (fields: HostName, DeviceId, SharedAccessKey, ...)`);
    const key = part.slice(0, eq).trim();
    if (!KNOWN.has(key)) fail(`unknown field ${key} (fields: ${[...KNOWN].join(', ')})`);
    fields.set(key, part.slice(eq + 1).trim());
  }
  const hostName = fields.get('HostName');
  const deviceId = fields.get('DeviceId');
  if (!hostName) fail('HostName is missing (e.g. HostName=my-hub.azure-devices.net)');
  if (!deviceId) fail('DeviceId is missing');
  if (fields.has('SharedAccessKeyName'))
    fail('SharedAccessKeyName marks a hub-level (service) connection string; use the device connection string');
  const key = fields.get('SharedAccessKey');
  const token = fields.get('SharedAccessSignature');
  const certificate = x509 || fields.get('x509')?.toLowerCase() === 'true';
  if (key !== undefined && token !== undefined) fail('give SharedAccessKey or SharedAccessSignature, not both');
  if (certificate && (key !== undefined || token !== undefined))
    fail('x509 authentication takes no SharedAccessKey or SharedAccessSignature');
  if (!certificate && !key && !token)
    fail('SharedAccessKey is missing (or set x509: true for certificate authentication)');
  if (fields.get('x509') !== undefined && !x509) fail('the connection string says x509=true: set x509: true as well');
  const out: DeviceConnection = { hostName, deviceId, auth: certificate ? 'x509' : key ? 'key' : 'token' };
  if (token) out.sharedAccessSignature = token;
  const moduleId = fields.get('ModuleId');
  if (moduleId) out.moduleId = moduleId;
  const gateway = fields.get('GatewayHostName');
  if (gateway) out.gatewayHostName = gateway;
  return out;
}
