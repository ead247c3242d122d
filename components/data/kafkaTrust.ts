/**
 * What a Kafka node trusts and when it counts as back: during a CA rotation (kafkaCaRotation.ts) the
 * Secret's ca.crt holds two CAs, and a roll must not take the next node down before the last one rejoined.
 */

/** Where the nodes read the trusted CAs: the chart's shared certs emptyDir, mounted in the kafka container. */
const BUNDLE_IN_INIT = "/certs/ca-bundle.crt";
export const CA_BUNDLE_PATH = "/opt/bitnami/kafka/config/certs/ca-bundle.crt";

/**
 * Every CA of the Secret's ca.crt in the truststore. Chart 32.4.3 templates/_init_containers.tpl 233-234
 * builds a JKS truststore with `keytool -import -file /certs/ca.crt`, and keytool imports only the first
 * certificate of a file, so a bundle of the old and new CA would trust one of them. Kafka's PEM truststore
 * reads them all: apache/kafka 4.0.0 clients/src/main/java/org/apache/kafka/common/security/ssl/
 * DefaultSslEngineFactory.java, createTruststore (PEM type with a location and no password ->
 * FileBasedPemStore) and PemStore.createTrustStoreFromPem (one trusted entry per certificate). The
 * overrides below replace the chart's `ssl.truststore.type: JKS` and location (templates/_helpers.tpl
 * 562-565, kafka.commonConfig, merged with overrideConfiguration in controller-eligible/configmap.yaml
 * 46-50); the script runs as defaultInitContainers.prepareConfig.extraInit, at the end of the
 * prepare-config script (_init_containers.tpl 367), after configure_kafka_tls: it keeps a copy of the
 * mounted bundle where the kafka container sees it (/certs is its /opt/bitnami/kafka/config/certs,
 * controller-eligible/statefulset.yaml 236-237), drops the unused JKS truststore, and deletes the
 * `ssl.truststore.password=` line configure_kafka_tls appended (_init_containers.tpl 255, through
 * kafka_server_conf_set, bitnami/containers kafka/4.0 libkafka.sh kafka_common_conf_set: `key=value`),
 * because a PEM truststore with a password is refused ("SSL trust store password cannot be specified for
 * PEM format", createTruststore). The brokers' own client side (inter-broker, controller quorum) uses the
 * same settings, so a node trusts both CAs as server and as client.
 */
export const caBundleTruststore = {
    serverProperties: {
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": CA_BUNDLE_PATH,
    },
    script: [
        "# components/data/kafkaTrust.ts: a PEM truststore of every CA in the mounted ca.crt.",
        `cp /mounted-certs/ca.crt ${BUNDLE_IN_INIT}`,
        `grep -q -- '-----BEGIN CERTIFICATE-----' ${BUNDLE_IN_INIT} || { error "no CA certificate in /mounted-certs/ca.crt"; exit 1; }`,
        "rm -f /certs/kafka.truststore.jks",
        `sed -i -E '/^ssl\\.truststore\\.password\\s*=/d' "$KAFKA_CONF_FILE"`,
        "",
    ].join("\n"),
};

/**
 * Ready only when the node serves clients over TLS with a certificate its trusted CAs verify for the
 * service name. The chart's default is a TCP check of the controller port (controller-eligible/
 * statefulset.yaml 196-200), which passes as soon as the socket is bound. Kafka binds its listeners early
 * but starts accepting on them only after the broker has caught up with the metadata quorum and been
 * unfenced: apache/kafka 4.0.0 core/src/main/scala/kafka/server/BrokerServer.scala startup waits for
 * "the controller to acknowledge that we are caught up", "the initial broker metadata update to be
 * published" and "the broker to be unfenced" before it enables request processing (socketServer.
 * enableRequestProcessing). Until then the handshake gets no answer and the probe times out; a node that
 * cannot join its peers (a certificate they do not trust) never gets that far. With the PodDisruptionBudget
 * and the StatefulSet's ordered roll, the next node goes down only after this one is back (plus
 * controller.minReadySeconds in helm-values/kafka.yaml). openssl is in the image: the chart's own init
 * script runs it (_init_containers.tpl 202-226).
 */
export function rejoinedReadinessProbe(release: string, namespace: string, clientPort: number) {
    const service = `${release}.${namespace}.svc.cluster.local`;
    return {
        exec: {
            command: [
                "/bin/bash",
                "-c",
                `openssl s_client -connect 127.0.0.1:${clientPort} -CAfile ${CA_BUNDLE_PATH} -verify_hostname ${service} -verify_return_error </dev/null >/dev/null 2>&1`,
            ],
        },
        initialDelaySeconds: 10,
        periodSeconds: 10,
        timeoutSeconds: 5,
        failureThreshold: 6,
        successThreshold: 1,
    };
}
