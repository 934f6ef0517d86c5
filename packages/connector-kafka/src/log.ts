import kafkajs, { type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '@bifrost/core';

const { logLevel } = kafkajs;

/**
 * Routes kafkajs's log into the connector's logger one level quieter: the host reports delivery
 * failures itself, so kafkajs's own errors (often retried) are warnings, its info is debug.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { kafkajs: namespace, ...extra };
      switch (level) {
        case logLevel.ERROR:
        case logLevel.WARN:
          return logger.warn(fields, message);
        case logLevel.INFO:
          return logger.debug(fields, message);
        case logLevel.DEBUG:
        case logLevel.NOTHING:
        default:
          return logger.trace(fields, message);
      }
    };
}
