import { ConfigReader } from "./reader";

/** Alerts and dashboard of a GKE stack (components/gcp/monitoring.ts); the local stack has none. */
export interface MonitoringSettings {
    /** Addresses every alert policy notifies by email (config `alertEmails`); empty: alerts show in the console only. */
    readonly alertEmails: readonly string[];
    /** How often Managed Prometheus scrapes each exporter, in seconds (config `metricsScrapeInterval`). */
    readonly scrapeIntervalSeconds: number;
    /** Whether the alert policies exist (config `alertPolicies`). */
    readonly alertPolicies: boolean;
    /**
     * Where the alerts' runbook links point (config `runbookBaseUrl`): the URL of docs/runbook.md in the
     * repository the stack is deployed from, e.g. https://github.com/<org>/<repo>/blob/main/docs/runbook.md.
     * Empty: the links are the path docs/runbook.md#<anchor> in that repository.
     */
    readonly runbookBaseUrl: string;
    /** Poll intervals without a new row for a symbol before the data-freshness alert fires (config `alertFreshnessPolls`). */
    readonly freshnessPolls: number;
    /** The longest gap between two runs of `pollSchedule`, in seconds. */
    readonly pollIntervalSeconds: number;
    /** The streaming job's micro-batch interval (`streamTriggerInterval`), in seconds. */
    readonly triggerIntervalSeconds: number;
}

/** An address as Cloud Monitoring's email channel takes it: a local part, @, and a domain with at least two labels. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function isEmailAddress(value: string): boolean {
    return value.length <= 254 && EMAIL.test(value) && !value.split("@")[0].startsWith(".") && !value.includes("..");
}

/** Airflow's presets, as the longest gap between two runs (a month of 31 days, a quarter of 92, a leap year). */
const PRESET_SECONDS: Record<string, number> = {
    "@continuous": 60,
    "@hourly": 3600,
    "@daily": 86_400,
    "@midnight": 86_400,
    "@weekly": 7 * 86_400,
    "@monthly": 31 * 86_400,
    "@quarterly": 92 * 86_400,
    "@yearly": 366 * 86_400,
    "@annually": 366 * 86_400,
};

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** The values one cron field selects, or undefined when it is not a field cron understands. */
function cronField(field: string, min: number, max: number, names: readonly string[] = [], nameBase = 0): Set<number> | undefined {
    const value = (text: string): number => {
        const named = names.indexOf(text.toUpperCase());
        return named >= 0 ? named + nameBase : /^[0-9]+$/.test(text) ? Number(text) : NaN;
    };
    const selected = new Set<number>();
    for (const part of field.split(",")) {
        const match = /^(\*|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/([0-9]+))?$/.exec(part);
        if (!match) {
            return undefined;
        }
        const step = match[4] === undefined ? 1 : Number(match[4]);
        const from = match[1] === "*" ? min : value(match[2]);
        const to = match[1] === "*" ? max : match[3] !== undefined ? value(match[3]) : match[4] !== undefined ? max : from;
        if (!Number.isInteger(from) || !Number.isInteger(to) || from < min || to > max || from > to || step < 1) {
            return undefined;
        }
        for (let v = from; v <= to; v += step) {
            selected.add(v);
        }
    }
    return selected;
}

/**
 * The longest gap, in seconds, between two consecutive runs of a schedule: a 5-field cron expression (UTC)
 * or an Airflow preset. Undefined for a schedule that does not repeat (@once) or cannot be read.
 */
export function scheduleIntervalSeconds(schedule: string): number | undefined {
    const trimmed = schedule.trim();
    if (trimmed.startsWith("@")) {
        return PRESET_SECONDS[trimmed];
    }
    const fields = trimmed.split(/\s+/);
    if (fields.length !== 5) {
        return undefined;
    }
    const minutes = cronField(fields[0], 0, 59);
    const hours = cronField(fields[1], 0, 23);
    const monthDays = cronField(fields[2], 1, 31);
    const months = cronField(fields[3], 1, 12, MONTH_NAMES, 1);
    const weekDays = cronField(fields[4], 0, 7, DAY_NAMES);
    if (!minutes || !hours || !monthDays || !months || !weekDays) {
        return undefined;
    }
    if (weekDays.has(7)) {
        weekDays.add(0);
    }
    // cron: when both day fields are restricted, a day matching either runs.
    const domRestricted = fields[2] !== "*";
    const dowRestricted = fields[4] !== "*";
    const runsOn = (day: Date): boolean => {
        if (!months.has(day.getUTCMonth() + 1)) {
            return false;
        }
        const dom = monthDays.has(day.getUTCDate());
        const dow = weekDays.has(day.getUTCDay());
        return domRestricted && dowRestricted ? dom || dow : dom && dow;
    };
    const dayMinutes = [...hours].flatMap((h) => [...minutes].map((m) => h * 60 + m)).sort((a, b) => a - b);
    // Four years hold every month length and weekday combination a gap can span (a leap year included).
    const start = Date.UTC(2024, 0, 1);
    const days = 4 * 365 + 1;
    const runDays: number[] = [];
    for (let d = 0; d < days; d++) {
        if (runsOn(new Date(start + d * 86_400_000))) {
            runDays.push(d);
        }
    }
    if (runDays.length === 0 || dayMinutes.length === 0) {
        return undefined;
    }
    // Every run day has the same minutes: the longest gap is within a day or from one run day's last run to the
    // next run day's first, the span wrapping round to its first day (it repeats but for 1900-like years).
    let longest = 0;
    for (let i = 1; i < dayMinutes.length; i++) {
        longest = Math.max(longest, dayMinutes[i] - dayMinutes[i - 1]);
    }
    const firstMinute = dayMinutes[0];
    const lastMinute = dayMinutes[dayMinutes.length - 1];
    runDays.forEach((day, i) => {
        const next = i + 1 < runDays.length ? runDays[i + 1] : runDays[0] + days;
        longest = Math.max(longest, (next - day) * 1440 + firstMinute - lastMinute);
    });
    return longest * 60;
}

/** `30 seconds` or `2 minutes` (validated by config/pipeline.ts) in seconds. */
export function intervalSeconds(interval: string): number | undefined {
    const match = /^([1-9][0-9]*) (seconds|minutes)$/.exec(interval);
    return match ? Number(match[1]) * (match[2] === "minutes" ? 60 : 1) : undefined;
}

export function readMonitoring(reader: ConfigReader, onGke: boolean): Partial<MonitoringSettings> {
    const emails = reader.stringList("alertEmails");
    const bad = (emails ?? []).filter((email) => !isEmailAddress(email));
    if (bad.length > 0) {
        reader.reject("alertEmails", bad, "a list of email addresses such as oncall@example.com");
    } else if (emails !== undefined && new Set(emails.map((e) => e.toLowerCase())).size !== emails.length) {
        reader.reject("alertEmails", emails, "a list of distinct email addresses");
    }
    if (emails !== undefined && emails.length > 0 && !onGke) {
        reader.reject("alertEmails", emails, "[] with clusterTarget: kubeconfig: the alerts are Cloud Monitoring policies of GKE stacks");
    }
    const runbookBaseUrl = reader.raw("runbookBaseUrl") ?? "";
    if (runbookBaseUrl !== "" && !/^https:\/\/[^\s#?]+$/.test(runbookBaseUrl)) {
        reader.reject(
            "runbookBaseUrl",
            runbookBaseUrl,
            "empty (links name docs/runbook.md in this repository) or the https URL of docs/runbook.md, without #anchor, such as https://github.com/<org>/<repo>/blob/main/docs/runbook.md",
        );
    }
    const freshnessPolls = reader.integer("alertFreshnessPolls", 1, 1000);
    const pollSchedule = reader.raw("pollSchedule");
    const pollIntervalSeconds = pollSchedule === undefined ? undefined : scheduleIntervalSeconds(pollSchedule);
    const readable = pollSchedule !== undefined && (/^@[a-z]+$/.test(pollSchedule) || pollSchedule.trim().split(/\s+/).length === 5);
    if (onGke && readable && pollIntervalSeconds === undefined) {
        // A schedule of the wrong shape is config/pipeline.ts's to report; one without a regular interval is ours.
        reader.reject(
            "pollSchedule",
            pollSchedule,
            "a schedule that repeats (cron or @hourly, @daily, ...) on a GKE stack: the data-freshness alert derives its threshold from it",
        );
    }
    return {
        alertEmails: emails,
        alertPolicies: reader.boolean("alertPolicies"),
        scrapeIntervalSeconds: reader.integer("metricsScrapeInterval", 5, 300),
        runbookBaseUrl,
        freshnessPolls,
        pollIntervalSeconds,
        triggerIntervalSeconds: intervalSeconds(reader.raw("streamTriggerInterval") ?? ""),
    };
}
