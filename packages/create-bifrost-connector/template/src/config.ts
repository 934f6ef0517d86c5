import { z } from '@bifrost/core';

/**
 * The connector's options: what users write under `provider_config` (plus `endpoint`). Every option
 * has a description (it becomes the README table, `bifrost schema` and `bifrost init --connector`),
 * a default where one makes sense, and `(secret)` at the end of the description of a secret.
 */
export const configSchema = z
  .object({
    endpoint: z.string().url().describe('Base URL of the receiver, e.g. `https://hooks.example.com`.'),
    path: z.string().default('/points').describe('Path each batch is POSTed to, as a JSON array of points.'),
    token: z.string().optional().describe('Bearer token sent with every request (secret).'),
  })
  .strict();

export type __PASCAL__Config = z.output<typeof configSchema>;
