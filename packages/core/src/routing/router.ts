import type { DataPoint } from '../data-point.js';
import { ConfigError } from '../errors.js';
import type { PointRouter } from '../pipeline/types.js';
import { compileCondition, ConditionSyntaxError, type PointPredicate } from './condition.js';

/** One routing rule as configured (`routing_rules` in the gateway config). */
export interface RoutingRule {
  /** Named in errors and logs. */
  name: string;
  /** e.g. `quality=ALARM or (tag_name=temp* and device_id!=PLC9)`; see `compileCondition`. */
  condition: string;
  /** Connector instance names the matching points go to. */
  connectors: readonly string[];
  /** Queue lane 0..9 (9 delivered first), clamped; the point's own priority is the floor. Default 0. */
  priority?: number;
}

export interface RouterOptions {
  rules?: readonly RoutingRule[];
  /** Where points no rule matches go. Without it they go nowhere (the caller sees an empty route). */
  defaultConnector?: string | readonly string[];
  /** Every configured connector name; rules naming anything else are rejected. */
  connectors: readonly string[];
}

/** One destination of a point: the connector and the lane it is queued in. */
export interface RouteTarget {
  connector: string;
  priority: number;
}

/** {@link PointRouter} plus what the router was built from, for logs and status pages. */
export interface Router extends PointRouter {
  /**
   * Every connector a matching rule names (each once, with the highest priority among the matching
   * rules); the default connector when none matched; every connector when there are no rules.
   * Empty only when rules exist, none matched and there is no default: the caller decides (count and
   * reject, never drop silently).
   */
  route(point: DataPoint): RouteTarget[];
  /** True when a point can end up with no connector (rules exist and there is no default). */
  readonly canDropUnmatched: boolean;
}

/** A routing rule that cannot be used; `rule` names it, `position` is set for condition syntax errors. */
export class RoutingConfigError extends ConfigError {
  constructor(
    message: string,
    readonly rule: string | undefined,
    readonly position?: number,
    code = 'BIFROST_ERR_ROUTING_CONFIG',
  ) {
    super(message, { code });
  }
}

const clampLane = (n: number): number => (Number.isFinite(n) ? Math.min(9, Math.max(0, Math.trunc(n))) : 0);

interface CompiledRule {
  matches: PointPredicate;
  /** Indexes into the connector list. */
  targets: number[];
  priority: number;
}

/**
 * Builds a router from routing rules, compiling every condition once. Throws
 * {@link RoutingConfigError} naming the rule for a condition that does not parse (with the position)
 * and for connector names that are not configured.
 */
export function createRouter(options: RouterOptions): Router {
  const names = [...new Set(options.connectors)];
  const indexOf = new Map(names.map((n, i) => [n, i]));
  const resolve = (connector: string, where: string, rule?: string): number => {
    const i = indexOf.get(connector);
    if (i === undefined) {
      throw new RoutingConfigError(
        `${where}: unknown connector "${connector}" (configured: ${names.length ? names.join(', ') : 'none'})`,
        rule,
        undefined,
        'BIFROST_ERR_ROUTING_UNKNOWN_CONNECTOR',
      );
    }
    return i;
  };

  const rules: CompiledRule[] = (options.rules ?? []).map((rule, n) => {
    const label = `routing rule "${rule.name || `#${n + 1}`}"`;
    let matches: PointPredicate;
    try {
      matches = compileCondition(rule.condition);
    } catch (e) {
      if (!(e instanceof ConditionSyntaxError)) throw e;
      throw new RoutingConfigError(`${label}: invalid condition: ${e.message}`, rule.name, e.position, e.code);
    }
    if (!rule.connectors.length) throw new RoutingConfigError(`${label}: no connectors listed`, rule.name);
    const targets = [...new Set(rule.connectors.map((c) => resolve(c, label, rule.name)))];
    return { matches, targets, priority: clampLane(rule.priority ?? 0) };
  });

  const defaults =
    options.defaultConnector === undefined
      ? []
      : [
          ...new Set(
            (typeof options.defaultConnector === 'string' ? [options.defaultConnector] : options.defaultConnector).map(
              (c) => resolve(c, 'default connector'),
            ),
          ),
        ];
  const fallback = rules.length === 0 ? names.map((_, i) => i) : defaults;

  // Scratch per connector, reused across calls: the best lane seen for the current point, and the
  // call stamp that says whether that entry belongs to the current point.
  const best = new Int8Array(names.length);
  const stamp = new Float64Array(names.length);
  let call = 0;

  return {
    canDropUnmatched: rules.length > 0 && defaults.length === 0,
    route(point: DataPoint): RouteTarget[] {
      const floor = point.priority === undefined ? 0 : clampLane(point.priority);
      const out: RouteTarget[] = [];
      call++;
      for (const rule of rules) {
        if (!rule.matches(point)) continue;
        const lane = rule.priority > floor ? rule.priority : floor;
        // t indexes names, and best and stamp are sized by names.length.
        for (const t of rule.targets) {
          const connector = names[t]!;
          if (stamp[t] !== call) {
            stamp[t] = call;
            best[t] = lane;
            out.push({ connector, priority: lane });
          } else if (lane > best[t]!) {
            best[t] = lane;
            for (const o of out) if (o.connector === connector) o.priority = lane;
          }
        }
      }
      // fallback holds indexes of names.
      if (out.length === 0) for (const t of fallback) out.push({ connector: names[t]!, priority: floor });
      return out;
    },
  };
}
