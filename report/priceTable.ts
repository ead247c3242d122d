import * as fs from "fs";
import * as path from "path";

// The price table (report/prices.json) the cost and operations estimates both read.

export const PRICES_FILE = path.join(__dirname, "prices.json");

export interface PriceTable {
    readonly currency: string;
    readonly region: string;
    readonly compiledOn: string;
    readonly hoursPerMonth: number;
    readonly notes: readonly string[];
    readonly machineFamilies: Readonly<Record<string, { vcpuHour: number; gibHour: number; source: string }>>;
    readonly spot: { assumedDiscount: number; source: string; publishedE2?: { vcpuHour: number; gibHour: number; source: string } };
    readonly gke: { clusterFeeHour: number; freeTierCreditMonth: number; source: string };
    readonly persistentDiskGibMonth: Readonly<Record<string, number | string>> & { source: string };
    readonly cloudNat: { perVmHour: number; maxGatewayHour: number; ipHour: number; dataGib: number; assumedDataGibMonth: number; source: string };
    readonly loadBalancer: { first5RulesHour: number; additionalRuleHour: number; source: string };
    readonly cloudStorage: { standardGibMonth: number; assumedDumpGib: number; source: string };
    readonly artifactRegistry: { storageGibMonth: number; assumedBitnamiCopyGib: number; source: string };
    readonly backupForGke: { perPodMonth: number; storageGibMonth: number; assumedDailyChangeShare: number; source: string };
    readonly managedPrometheus: {
        perMillionSamples: number;
        defaultScrapeIntervalSeconds: number;
        assumedSeriesPerTarget: Readonly<Record<string, number>>;
        source: string;
    };
    readonly cloudMonitoring: { alertConditionMonth: number; dashboardMonth: number; source: string };
    readonly managedAlternative: ManagedSetup;
    /** The managed setup at the availability prod has: Cloud SQL HA, Composer with two schedulers, Kafka across three zones. */
    readonly managedHaAlternative: ManagedSetup;
}

export interface ManagedSetup {
    readonly description: string;
    readonly items: readonly { service: string; monthly: number; basis: string; sources: readonly string[] }[];
}

export function loadPrices(): PriceTable {
    return JSON.parse(fs.readFileSync(PRICES_FILE, "utf8"));
}
