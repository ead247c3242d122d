// The CustomResourceDefinitions the program's objects need, from their publishers' Go modules: the module
// proxy serves them pinned and checked against go.sum, where no other route to GitHub exists.
// PodMonitoring: Google Cloud Managed Service for Prometheus, charts/operator/crds/.
module streaming-platform/apiserver/crds

go 1.25.0

require github.com/GoogleCloudPlatform/prometheus-engine v0.17.2
