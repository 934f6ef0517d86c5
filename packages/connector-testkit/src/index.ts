export * from './conformance/index.js';
export * from './peers/kafka.js';
export * from './peers/rabbitmq.js';
