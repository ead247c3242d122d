import * as pulumi from "@pulumi/pulumi";

/**
 * The config key that sets the partition count, as the user writes it. Not exported: TypeScript would
 * then compile references to it as `exports.…`, and the provider's serialized closure would carry the module.
 */
const PARTITIONS_CONFIG_KEY = "streaming-platform:kafkaTopicPartitions";

export interface TopicPartitions {
    readonly topic: string;
    readonly partitions: number;
}

/**
 * Why a partition count cannot be applied, or undefined when it can: Kafka adds partitions but never
 * removes them. `applied` is what the last update recorded (undefined before the first one); another
 * topic name starts afresh, because the program then provisions a new topic.
 */
export function partitionChangeProblem(applied: Partial<TopicPartitions> | undefined, requested: TopicPartitions): string | undefined {
    if (applied?.topic !== requested.topic || typeof applied.partitions !== "number" || requested.partitions >= applied.partitions) {
        return undefined;
    }
    return (
        `${PARTITIONS_CONFIG_KEY} = ${requested.partitions}: topic "${requested.topic}" already has ${applied.partitions} partitions ` +
        `and Kafka cannot remove partitions; set ${PARTITIONS_CONFIG_KEY} to ${applied.partitions} or more ` +
        `(fewer partitions need a new topic: a new kafkaTopic name, or deleting and recreating this one with its data lost)`
    );
}

/**
 * Keeps the last applied inputs in the Pulumi state and refuses a decrease in check(), which the engine
 * runs in every preview and before any update. Serialized into the state by Pulumi, so it references
 * nothing but partitionChangeProblem (and its constant).
 */
export const topicPartitionsProvider: pulumi.dynamic.ResourceProvider = {
    async check(olds: any, news: any) {
        const problem = partitionChangeProblem(olds, news);
        return problem === undefined ? { inputs: news } : { inputs: news, failures: [{ property: "partitions", reason: problem }] };
    },
    async create(inputs: any) {
        return { id: String(inputs.topic), outs: inputs };
    },
    async update(_id: string, _olds: any, news: any) {
        return { outs: news };
    },
};

export interface KafkaTopicPartitionsArgs {
    /** Topic the count belongs to; another name starts afresh. */
    readonly topic: string;
    /** Partition count about to be applied (config `kafkaTopicPartitions`); one below the last applied is refused. */
    readonly partitions: number;
}

/**
 * The partition count last applied to a topic, in the stack's state: the program cannot see the live
 * topic at preview, so this is what a lower count is checked against. Whatever changes the topic
 * (the Helm release) must depend on it, so a refused decrease stops the update before anything changes.
 */
export class KafkaTopicPartitions extends pulumi.dynamic.Resource {
    declare readonly topic: pulumi.Output<string>;
    declare readonly partitions: pulumi.Output<number>;

    constructor(name: string, args: KafkaTopicPartitionsArgs, opts?: pulumi.CustomResourceOptions) {
        super(topicPartitionsProvider, name, { topic: args.topic, partitions: args.partitions }, opts, undefined, "KafkaTopicPartitions");
    }
}
