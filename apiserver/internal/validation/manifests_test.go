package validation

import (
	"encoding/json"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// The manifests below are the ones users apply most; the expected specs are
// what `kubectl get -o yaml` prints for them on a Kubernetes v1.32 cluster
// (without the service account token volume, which the registry adds).
const (
	nginxDeploymentYAML = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  namespace: default
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
`
	nginxDeploymentSpec = `
progressDeadlineSeconds: 600
replicas: 3
revisionHistoryLimit: 10
selector:
  matchLabels:
    app: nginx
strategy:
  rollingUpdate:
    maxSurge: 25%
    maxUnavailable: 25%
  type: RollingUpdate
template:
  metadata:
    creationTimestamp: null
    labels:
      app: nginx
  spec:
    containers:
    - image: nginx:1.14.2
      imagePullPolicy: IfNotPresent
      name: nginx
      ports:
      - containerPort: 80
        protocol: TCP
      resources: {}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
`
	nginxPodYAML = `
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  namespace: default
spec:
  containers:
  - name: nginx
    image: nginx
    ports:
    - containerPort: 80
    resources:
      limits:
        memory: 128Mi
        cpu: 500m
    readinessProbe:
      httpGet:
        port: 80
`
	nginxPodSpec = `
containers:
- image: nginx
  imagePullPolicy: Always
  name: nginx
  ports:
  - containerPort: 80
    protocol: TCP
  readinessProbe:
    failureThreshold: 3
    httpGet:
      path: /
      port: 80
      scheme: HTTP
    periodSeconds: 10
    successThreshold: 1
    timeoutSeconds: 1
  resources:
    limits:
      cpu: 500m
      memory: 128Mi
    requests:
      cpu: 500m
      memory: 128Mi
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
dnsPolicy: ClusterFirst
enableServiceLinks: true
preemptionPolicy: PreemptLowerPriority
priority: 0
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
serviceAccount: default
serviceAccountName: default
terminationGracePeriodSeconds: 30
tolerations:
- effect: NoExecute
  key: node.kubernetes.io/not-ready
  operator: Exists
  tolerationSeconds: 300
- effect: NoExecute
  key: node.kubernetes.io/unreachable
  operator: Exists
  tolerationSeconds: 300
`
)

// TestTypicalManifests applies defaults to typical manifests, checks that
// they validate without error and that their specs read back as on a real
// cluster.
func TestTypicalManifests(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		obj      runtime.Object
		spec     func(runtime.Object) interface{}
		wantSpec string
	}{
		{name: "nginx Deployment", manifest: nginxDeploymentYAML, obj: &appsv1.Deployment{},
			spec: func(o runtime.Object) interface{} { return o.(*appsv1.Deployment).Spec }, wantSpec: nginxDeploymentSpec},
		{name: "nginx Pod", manifest: nginxPodYAML, obj: &corev1.Pod{},
			spec: func(o runtime.Object) interface{} { return o.(*corev1.Pod).Spec }, wantSpec: nginxPodSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := yaml.UnmarshalStrict([]byte(tt.manifest), tt.obj); err != nil {
				t.Fatalf("yaml.UnmarshalStrict() = %v", err)
			}
			defaults.Apply(tt.obj)
			if p, ok := tt.obj.(*corev1.Pod); ok { // the pod strategy adds these at create; kubectl saw Kubernetes' 300s
				p.Spec.Tolerations = defaults.Tolerations(p.Spec.Tolerations, 300)
			}
			if errs := Create(tt.obj); len(errs) != 0 {
				t.Errorf("Create() = %v; want no errors", errs.ToAggregate())
			}
			got := asJSONValue(t, tt.spec(tt.obj))
			var want interface{}
			if err := yaml.Unmarshal([]byte(tt.wantSpec), &want); err != nil {
				t.Fatalf("yaml.Unmarshal(want) = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("defaulted spec differs from kubectl's view (-want +got):\n%s", diff)
			}
		})
	}
}

// asJSONValue returns v as the generic value its JSON encoding decodes to.
func asJSONValue(t *testing.T, v interface{}) interface{} {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	var out interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal() = %v", err)
	}
	return out
}
