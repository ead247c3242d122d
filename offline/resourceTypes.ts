/**
 * The resource type tokens the tests, the capacity report and the policy pack look for: one table, so a
 * provider that renames a type is followed in one place.
 */
export const TYPES = {
    kubernetesProvider: "pulumi:providers:kubernetes",
    helmRelease: "kubernetes:helm.sh/v3:Release",
    helmChart: "kubernetes:helm.sh/v4:Chart",
    namespace: "kubernetes:core/v1:Namespace",
    secret: "kubernetes:core/v1:Secret",
    configMap: "kubernetes:core/v1:ConfigMap",
    service: "kubernetes:core/v1:Service",
    persistentVolumeClaim: "kubernetes:core/v1:PersistentVolumeClaim",
    deployment: "kubernetes:apps/v1:Deployment",
    job: "kubernetes:batch/v1:Job",
    storageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
    cluster: "gcp:container/cluster:Cluster",
    nodePool: "gcp:container/nodePool:NodePool",
    network: "gcp:compute/network:Network",
    subnetwork: "gcp:compute/subnetwork:Subnetwork",
    router: "gcp:compute/router:Router",
    routerNat: "gcp:compute/routerNat:RouterNat",
    address: "gcp:compute/address:Address",
    repository: "gcp:artifactregistry/repository:Repository",
    serviceAccount: "gcp:serviceaccount/account:Account",
    projectService: "gcp:projects/service:Service",
    projectIamMember: "gcp:projects/iAMMember:IAMMember",
    image: "docker:index/image:Image",
    randomPassword: "random:index/randomPassword:RandomPassword",
    randomBytes: "random:index/randomBytes:RandomBytes",
} as const;
