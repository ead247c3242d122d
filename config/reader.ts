import * as pulumi from "@pulumi/pulumi";

/**
 * Reads raw stack config and collects every problem instead of stopping at the first,
 * so one `pulumi up` tells the user everything that is wrong.
 */
export class ConfigReader {
    readonly problems: string[] = [];
    private readonly configs = new Map<string, pulumi.Config>();

    constructor(private readonly defaultNamespace: string) {}

    /** Records a problem as `<key> = <value>: <what is allowed>`; returns undefined for chaining. */
    reject(key: string, value: unknown, allowed: string): undefined {
        const shown = value === undefined ? "(not set)" : JSON.stringify(value);
        this.problems.push(`${this.qualify(key)} = ${shown}: ${allowed}`);
        return undefined;
    }

    qualify(key: string): string {
        return key.includes(":") ? key : `${this.defaultNamespace}:${key}`;
    }

    raw(key: string): string | undefined {
        const [namespace, name] = this.qualify(key).split(":");
        let config = this.configs.get(namespace);
        if (!config) {
            config = new pulumi.Config(namespace);
            this.configs.set(namespace, config);
        }
        return config.get(name);
    }

    string(key: string, pattern: RegExp, allowed: string): string | undefined {
        const value = this.raw(key);
        return value !== undefined && pattern.test(value) ? value : this.reject(key, value, allowed);
    }

    oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
        const value = this.raw(key);
        return allowed.includes(value as T) ? (value as T) : this.reject(key, value, `one of ${allowed.join(", ")}`);
    }

    integer(key: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
        const value = this.raw(key);
        const parsed = Number(value);
        const ok = value !== undefined && value.trim() !== "" && Number.isInteger(parsed) && parsed >= min && parsed <= max;
        const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
        return ok ? parsed : this.reject(key, value, `an integer ${range}`);
    }

    boolean(key: string): boolean | undefined {
        const value = this.raw(key);
        if (value === "true" || value === "false") {
            return value === "true";
        }
        return this.reject(key, value, "true or false");
    }

    stringList(key: string): string[] | undefined {
        const value = this.raw(key);
        try {
            const parsed: unknown = JSON.parse(value ?? "[]");
            if (Array.isArray(parsed) && parsed.every((item) => typeof item === "string")) {
                return parsed;
            }
        } catch {
            // reported below like any other wrong shape
        }
        return this.reject(key, value, "a list of strings");
    }
}
