/**
 * The broker's Prometheus metrics (issue 6): exchanges by outcome, request latency, approvals,
 * tasks and store errors, plus the process' own figures.
 *
 * Exchanges, approvals and tasks are counted from the audit stream, not at each door: both
 * doors (POST /token and the MCP tools) record the same typed events, so one tee counts both.
 *
 * @module metrics/metrics
 */

import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { AuditEvent, AuditSink } from "../audit/events.js";
import { methodLabel, refusalOutcome } from "./labels.js";

export interface Metrics {
  /** Wraps a sink: passes each event on unchanged, then counts it. */
  auditSink(inner: AuditSink): AuditSink;
  /** One failed store operation or connection error (the store's `onError`). */
  storeError(): void;
  /** One HTTP request: `route` is the matched pattern (`/tasks/:id/end`), never the raw path. */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** The Prometheus text exposition and its content type. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Seconds, 1 ms to 2.5 s: an exchange takes milliseconds; a store deadline is 0.5 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const APPROVAL_EVENTS = ["requested", "approved", "denied", "redeemed"] as const;
const TASK_EVENTS = ["started", "ended"] as const;

export function createMetrics(): Metrics {
  // A registry of its own, never prom-client's global one: several brokers in one process
  // (the tests) would otherwise share, or collide on, the same counters.
  const register = new Registry();
  const processWide = processRegistry();
  const series = brokerSeries(register);
  return {
    auditSink: (inner) => ({
      record(event) {
        inner.record(event);
        count(series, event);
      },
      written: () => inner.written(),
      close: () => inner.close(),
      failure: () => inner.failure?.(),
    }),
    storeError: () => series.storeErrors.inc(),
    observeRequest(route, method, status, seconds) {
      series.latency.observe(
        { route, method: methodLabel(method), status: String(status) },
        seconds,
      );
    },
    async render() {
      const merged = Registry.merge([processWide, register]);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
  };
}

/** The broker's own series, registered in `register`, each at zero from the start. */
function brokerSeries(register: Registry) {
  const registers = [register];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const series = {
    exchanges: counter(
      "baton_exchanges_total",
      "Token exchanges, by outcome: issued, or the OAuth error code of the refusal",
      ["outcome"],
    ),
    latency: new Histogram({
      name: "baton_http_request_duration_seconds",
      help: "HTTP request duration until the response headers, by route pattern, method, status",
      labelNames: ["route", "method", "status"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    approvals: counter(
      "baton_approvals_total",
      "Approval events: requested, approved, denied, redeemed",
      ["event"],
    ),
    tasks: counter("baton_tasks_total", "Task events: started, ended", ["event"]),
    storeErrors: counter(
      "baton_store_errors_total",
      "Failed store operations and store connection errors",
    ),
  };
  // Zero-valued series from the start, so that rate() and alerts see them before the first event.
  series.exchanges.inc({ outcome: "issued" }, 0);
  for (const event of APPROVAL_EVENTS) series.approvals.inc({ event }, 0);
  for (const event of TASK_EVENTS) series.tasks.inc({ event }, 0);
  return series;
}

/** Counts one audit event in the series it belongs to; other events count nowhere. */
function count(series: ReturnType<typeof brokerSeries>, event: AuditEvent): void {
  const { exchanges, approvals, tasks } = series;
  switch (event.type) {
    case "exchange.issued":
      exchanges.inc({ outcome: "issued" });
      break;
    case "exchange.denied":
      exchanges.inc({ outcome: refusalOutcome(event.error) });
      break;
    case "approval.requested":
      approvals.inc({ event: "requested" });
      break;
    case "approval.decided":
      approvals.inc({ event: event.decision });
      break;
    case "approval.redeemed":
      approvals.inc({ event: "redeemed" });
      break;
    case "task.started":
      tasks.inc({ event: "started" });
      break;
    case "task.ended":
      tasks.inc({ event: "ended" });
      break;
    default:
      break;
  }
}

let processMetrics: Registry | undefined;

/**
 * The process' own figures (CPU, memory, event loop, GC), collected once per process: they
 * describe the process, not a broker, and each collection starts a GC observer and an event
 * loop monitor that are never stopped.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}
