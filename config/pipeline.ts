import { ConfigReader } from "./reader";
import { ContainerSize, size } from "./services";
import { driverMemory, MIN_DRIVER_POD_MIB, MIN_HEAP_MIB, PYTHON_DRIVER_MIB, quantityMiB } from "../components/data/sparkMemory";

export const CRYPTO_SOURCES = ["coingecko", "binance"] as const;

export interface PipelineSettings {
    /** Build and push the Airflow and Spark job images to Artifact Registry (GKE stacks only). */
    readonly buildImages: boolean;
    readonly source: (typeof CRYPTO_SOURCES)[number];
    readonly symbols: readonly string[];
    readonly vsCurrency: string;
    /** Empty: the source's public endpoint. */
    readonly apiUrl: string;
    readonly pollSchedule: string;
    readonly triggerInterval: string;
    readonly checkpointStorage: string;
    readonly driverSize: ContainerSize;
}

/** The same symbol rules the producer applies at run time, so a typo fails `pulumi up`, not the DAG. */
const SYMBOL_PATTERNS: Record<PipelineSettings["source"], { pattern: RegExp; example: string }> = {
    coingecko: { pattern: /^[a-z0-9][a-z0-9-]{0,63}$/, example: "CoinGecko ids such as bitcoin, ethereum" },
    binance: { pattern: /^[A-Z0-9]{2,32}$/, example: "Binance pairs such as BTCUSDT, ETHUSDT" },
};

function schedule(reader: ConfigReader): string | undefined {
    const value = reader.raw("pollSchedule");
    const ok = value !== undefined && (/^@[a-z]+$/.test(value) || value.trim().split(/\s+/).length === 5);
    return ok ? value : reader.reject("pollSchedule", value, "a 5-field cron expression such as */1 * * * * or an Airflow preset such as @hourly");
}

function symbols(reader: ConfigReader, source: PipelineSettings["source"] | undefined): string[] | undefined {
    const list = reader.stringList("cryptoSymbols");
    if (list === undefined || source === undefined) {
        return list;
    }
    const { pattern, example } = SYMBOL_PATTERNS[source];
    const bad = list.filter((symbol) => !pattern.test(symbol));
    if (list.length === 0 || bad.length > 0) {
        reader.reject("cryptoSymbols", bad.length > 0 ? bad : list, `a non-empty list of ${example} (cryptoSource is ${source})`);
    }
    return list;
}

/** Regional persistent disks come in 10 GiB and up (GKE "Provisioning regional persistent disks"). */
export const MIN_REGIONAL_PD_GIB = 10;

function checkpointStorage(reader: ConfigReader, regional: boolean): string | undefined {
    const value = reader.string("streamCheckpointStorage", /^[1-9][0-9]*Gi$/, "a volume size in Gi such as 1Gi");
    if (value !== undefined && regional && quantityMiB(value) < MIN_REGIONAL_PD_GIB * 1024) {
        return reader.reject(
            "streamCheckpointStorage",
            value,
            `at least ${MIN_REGIONAL_PD_GIB}Gi on a regional cluster, where the checkpoint is a regional persistent disk`,
        );
    }
    return value;
}

/** The driver pod must hold a heap of at least MIN_HEAP_MIB, its JVM overhead and the Python driver. */
function driverSize(reader: ConfigReader): ContainerSize {
    const driver = size(reader, "streamDriver");
    if (driver.memory !== undefined && driverMemory(quantityMiB(driver.memory)).heapMiB < MIN_HEAP_MIB) {
        reader.reject(
            "streamDriverMemory",
            driver.memory,
            `at least ${MIN_DRIVER_POD_MIB}Mi: a driver heap of at least ${MIN_HEAP_MIB}Mi, its JVM overhead (max(384Mi, 10 %)) and ${PYTHON_DRIVER_MIB}Mi for the Python driver`,
        );
    }
    return driver;
}

export function readPipeline(reader: ConfigReader, onGke: boolean): PipelineSettings {
    const buildImages = reader.boolean("buildImages");
    if (buildImages && !onGke) {
        reader.reject("buildImages", "true", "false when clusterTarget is kubeconfig (images are pushed to Artifact Registry)");
    }
    const source = reader.oneOf("cryptoSource", CRYPTO_SOURCES);
    const apiUrl = reader.raw("cryptoApiUrl") ?? "";
    if (apiUrl !== "" && !/^https?:\/\/[^\s]+$/.test(apiUrl)) {
        reader.reject("cryptoApiUrl", apiUrl, "empty (the source's public endpoint) or an http(s) URL");
    }
    return {
        buildImages: buildImages!,
        source: source!,
        symbols: symbols(reader, source)!,
        vsCurrency: reader.string("cryptoVsCurrency", /^[a-z]{2,10}$/, "a lowercase currency code such as usd or eur (usdt for Binance)")!,
        apiUrl,
        pollSchedule: schedule(reader)!,
        triggerInterval: reader.string("streamTriggerInterval", /^[1-9][0-9]* (seconds|minutes)$/, "an interval such as 30 seconds or 2 minutes")!,
        // Read raw: `regional` itself is validated with the cluster settings.
        checkpointStorage: checkpointStorage(reader, onGke && reader.raw("regional") === "true")!,
        driverSize: driverSize(reader),
    };
}
