package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// k8sDir holds the kustomize entry point, the base, the gpu overlay and the
// replay job.
const k8sDir = "k8s"

// k8sDoc is one YAML document of a manifest file.
type k8sDoc struct {
	file       string
	raw        []byte
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func (d k8sDoc) String() string { return fmt.Sprintf("%s %s/%s", d.file, d.Kind, d.Metadata.Name) }

type kustomization struct {
	Namespace string   `json:"namespace"`
	Resources []string `json:"resources"`
	Patches   []struct {
		Path string `json:"path"`
	} `json:"patches"`
}

type probe struct {
	PeriodSeconds    int `json:"periodSeconds"`
	FailureThreshold int `json:"failureThreshold"`
	HTTPGet          *struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `json:"configMapRef"`
		SecretRef    *struct{ Name string } `json:"secretRef"`
	} `json:"envFrom"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	Resources struct {
		Requests map[string]any `json:"requests"`
		Limits   map[string]any `json:"limits"`
	} `json:"resources"`
	ReadinessProbe *probe `json:"readinessProbe"`
	LivenessProbe  *probe `json:"livenessProbe"`
	StartupProbe   *probe `json:"startupProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `json:"seconds"`
			} `json:"sleep"`
			Exec *struct{ Command []string } `json:"exec"`
		} `json:"preStop"`
	} `json:"lifecycle"`
	SecurityContext *struct {
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

type podTemplate struct {
	Metadata struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds *int `json:"terminationGracePeriodSeconds"`
		RestartPolicy                 string
		SecurityContext               *struct {
			RunAsNonRoot *bool `json:"runAsNonRoot"`
			RunAsUser    *int  `json:"runAsUser"`
		} `json:"securityContext"`
		InitContainers []container `json:"initContainers"`
		Containers     []container `json:"containers"`
		Volumes        []struct {
			Name   string `json:"name"`
			Secret *struct {
				SecretName string `json:"secretName"`
			} `json:"secret"`
			PersistentVolumeClaim *struct {
				ClaimName string `json:"claimName"`
			} `json:"persistentVolumeClaim"`
		} `json:"volumes"`
	} `json:"spec"`
}

type workload struct {
	Spec struct {
		Replicas *int `json:"replicas"`
		Selector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template          *podTemplate `json:"template"`
		Parallelism       *int         `json:"parallelism"`
		Schedule          string       `json:"schedule"`
		ConcurrencyPolicy string       `json:"concurrencyPolicy"`
		JobTemplate       *struct {
			Spec struct {
				Template *podTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
		MaxUnavailable any `json:"maxUnavailable"`
		MinAvailable   any `json:"minAvailable"`
	} `json:"spec"`
}

func (w workload) pod() *podTemplate {
	if w.Spec.JobTemplate != nil {
		return w.Spec.JobTemplate.Spec.Template
	}
	return w.Spec.Template
}

type scaledObject struct {
	Spec struct {
		ScaleTargetRef  struct{ Name string } `json:"scaleTargetRef"`
		MinReplicaCount *int                  `json:"minReplicaCount"`
		MaxReplicaCount *int                  `json:"maxReplicaCount"`
		Triggers        []struct {
			Type              string                 `json:"type"`
			Metadata          map[string]string      `json:"metadata"`
			AuthenticationRef *struct{ Name string } `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

type triggerAuth struct {
	Spec struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef"`
	} `json:"spec"`
}

type keyed struct {
	Data       map[string]string `json:"data"`
	StringData map[string]string `json:"stringData"`
}

func (k keyed) keys() map[string]string {
	m := map[string]string{}
	for _, src := range []map[string]string{k.Data, k.StringData} {
		for key, v := range src {
			m[key] = v
		}
	}
	return m
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// k8sSet is every document under deploy/k8s, with the kustomizations.
type k8sSet struct {
	docs    []k8sDoc
	kusts   map[string]kustomization // by directory
	patches map[string]bool          // files used as patches
}

func loadK8s(t *testing.T) *k8sSet {
	t.Helper()
	s := &k8sSet{kusts: map[string]kustomization{}, patches: map[string]bool{}}
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, part := range docSep.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(part)) == "" {
				continue
			}
			doc := k8sDoc{file: path, raw: []byte(part)}
			if err := yaml.Unmarshal(doc.raw, &doc); err != nil {
				return fmt.Errorf("%s document %d: %w", path, i+1, err)
			}
			if doc.Kind == "Kustomization" {
				var k kustomization
				if err := yaml.UnmarshalStrict(doc.raw, &k); err != nil && !strings.Contains(err.Error(), "unknown field") {
					return fmt.Errorf("%s: %w", path, err)
				}
				s.kusts[filepath.Dir(path)] = k
				for _, p := range k.Patches {
					s.patches[filepath.Join(filepath.Dir(path), p.Path)] = true
				}
			}
			s.docs = append(s.docs, doc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.docs) == 0 {
		t.Fatalf("no manifests under %s", k8sDir)
	}
	return s
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// find returns the first full (non-patch) document of a kind and name.
func (s *k8sSet) find(kind, name string) (k8sDoc, bool) {
	for _, d := range s.docs {
		if d.Kind == kind && d.Metadata.Name == name && !s.patches[d.file] {
			return d, true
		}
	}
	return k8sDoc{}, false
}

func (s *k8sSet) mustFind(t *testing.T, kind, name string) k8sDoc {
	t.Helper()
	d, ok := s.find(kind, name)
	if !ok {
		t.Fatalf("no %s %q under %s", kind, name, k8sDir)
	}
	return d
}

func decode[T any](t *testing.T, d k8sDoc) T {
	t.Helper()
	var v T
	if err := yaml.Unmarshal(d.raw, &v); err != nil {
		t.Fatalf("%s: %v", d, err)
	}
	return v
}

// config returns the worker ConfigMap's data.
func (s *k8sSet) config(t *testing.T) map[string]string {
	return decode[keyed](t, s.mustFind(t, "ConfigMap", "nerstream-config")).keys()
}

// expectedAPI maps every kind used here to its API version.
var expectedAPI = map[string]string{
	"Namespace": "v1", "ConfigMap": "v1", "Secret": "v1", "ServiceAccount": "v1",
	"PersistentVolumeClaim": "v1", "Deployment": "apps/v1", "PodDisruptionBudget": "policy/v1",
	"CronJob": "batch/v1", "Job": "batch/v1", "ScaledObject": "keda.sh/v1alpha1",
	"TriggerAuthentication": "keda.sh/v1alpha1", "Kustomization": "kustomize.config.k8s.io/v1beta1",
}

func TestK8sDocuments(t *testing.T) {
	s := loadK8s(t)
	seen := map[string]string{}
	for _, d := range s.docs {
		if d.APIVersion == "" || d.Kind == "" {
			t.Errorf("%s: apiVersion and kind are required", d)
			continue
		}
		if want, ok := expectedAPI[d.Kind]; !ok {
			t.Errorf("%s: unexpected kind", d)
		} else if d.APIVersion != want {
			t.Errorf("%s: apiVersion %q, want %q", d, d.APIVersion, want)
		}
		if d.Kind != "Kustomization" && d.Metadata.Name == "" {
			t.Errorf("%s: metadata.name is required", d)
		}
		if s.patches[d.file] || d.Kind == "Kustomization" {
			continue
		}
		key := d.Kind + "/" + d.Metadata.Name
		if prev, dup := seen[key]; dup {
			t.Errorf("%s defined twice (%s and %s)", key, prev, d.file)
		}
		seen[key] = d.file
	}
}

func TestK8sKustomizations(t *testing.T) {
	s := loadK8s(t)
	for _, dir := range []string{"k8s", "k8s/base", "k8s/gpu", "k8s/replay"} {
		if _, ok := s.kusts[dir]; !ok {
			t.Errorf("%s: no kustomization.yaml", dir)
		}
	}
	referenced := map[string]bool{}
	for dir, k := range s.kusts {
		for _, r := range k.Resources {
			p := filepath.Join(dir, r)
			st, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s/kustomization.yaml: resource %s: %v", dir, r, err)
				continue
			}
			if st.IsDir() {
				if _, ok := s.kusts[p]; !ok {
					t.Errorf("%s/kustomization.yaml: resource dir %s has no kustomization", dir, r)
				}
			}
			referenced[p] = true
		}
		for _, pt := range k.Patches {
			p := filepath.Join(dir, pt.Path)
			referenced[p] = true
			for _, d := range s.docs {
				if d.file != p {
					continue
				}
				if _, ok := s.find(d.Kind, d.Metadata.Name); !ok {
					t.Errorf("%s: patch target %s/%s does not exist in the base", p, d.Kind, d.Metadata.Name)
				}
			}
		}
	}
	for _, d := range s.docs {
		if d.Kind != "Kustomization" && !referenced[d.file] {
			t.Errorf("%s is not listed in any kustomization (kubectl apply -k would skip it)", d.file)
		}
	}
}

// checkContainer returns rule violations for one container of a full
// workload; ours says whether it runs the nerstream image.
func checkContainer(c container, ours bool) []string {
	var p []string
	add := func(f string, a ...any) { p = append(p, c.Name+": "+fmt.Sprintf(f, a...)) }
	if c.Image == "" {
		add("no image")
	} else if !pinned(c.Image) {
		add("image %q is not pinned to a tag or digest", c.Image)
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == nil {
			add("no resources.requests.%s", r)
		}
	}
	if c.Resources.Limits["memory"] == nil {
		add("no resources.limits.memory")
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		add("securityContext must forbid privilege escalation, make the root fs read-only and drop ALL capabilities")
	}
	if !ours {
		return p
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	if bad := unknownEnv(names); len(bad) > 0 {
		add("env names not in the agreed list: %v", bad)
	}
	flags := workerFlags
	if slices.Contains(c.Command, "/app/bin/producer") {
		flags = producerFlags
		if len(c.Args) == 0 || (c.Args[0] != "pubmed" && c.Args[0] != "jsonl") {
			add("producer args %v: want the pubmed or jsonl subcommand first", c.Args)
		}
	} else if len(c.Args) == 0 || c.Args[0] != "run" {
		add("worker args %v: want `run` first", c.Args)
	}
	if bad := unknownFlags(c.Args, flags); len(bad) > 0 {
		add("unknown flags %v", bad)
	}
	return p
}

func TestCheckContainerRejects(t *testing.T) {
	f, tr := false, true
	good := container{Name: "w", Image: "ghcr.io/x/y:1.0", Args: []string{"run", "--from", "earliest"}}
	good.Resources.Requests = map[string]any{"cpu": "1", "memory": "1Gi"}
	good.Resources.Limits = map[string]any{"memory": "1Gi"}
	good.SecurityContext = &struct {
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	}{&f, &tr, &struct {
		Drop []string `json:"drop"`
	}{[]string{"ALL"}}}
	if p := checkContainer(good, true); len(p) > 0 {
		t.Fatalf("good container: %v", p)
	}
	tests := []struct {
		name   string
		mutate func(c *container)
		want   string
	}{
		{"latest", func(c *container) { c.Image = "ghcr.io/x/y:latest" }, "not pinned"},
		{"untagged", func(c *container) { c.Image = "ghcr.io/x/y" }, "not pinned"},
		{"no memory limit", func(c *container) { c.Resources.Limits = nil }, "limits.memory"},
		{"no cpu request", func(c *container) { delete(c.Resources.Requests, "cpu") }, "requests.cpu"},
		{"no security context", func(c *container) { c.SecurityContext = nil }, "securityContext"},
		{"bad flag", func(c *container) { c.Args = append(c.Args, "--devices", "cuda") }, "--devices"},
		{"no run", func(c *container) { c.Args = []string{"--from", "earliest"} }, "want `run`"},
		{"bad env", func(c *container) {
			c.Env = append(c.Env, struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			}{"NERSTREAM_BROKER", "k:9092"})
		}, "NERSTREAM_BROKER"},
	}
	for _, tt := range tests {
		c := good
		c.Resources.Requests = map[string]any{"cpu": "1", "memory": "1Gi"}
		c.Args = slices.Clone(good.Args)
		tt.mutate(&c)
		p := checkContainer(c, true)
		if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tt.want) }) {
			t.Errorf("%s: problems %q, want one containing %q", tt.name, p, tt.want)
		}
	}
}

// workloads returns every full Deployment, Job and CronJob.
func (s *k8sSet) workloads() []k8sDoc {
	var out []k8sDoc
	for _, d := range s.docs {
		if (d.Kind == "Deployment" || d.Kind == "Job" || d.Kind == "CronJob") && !s.patches[d.file] {
			out = append(out, d)
		}
	}
	return out
}

func TestK8sWorkloads(t *testing.T) {
	s := loadK8s(t)
	for _, d := range s.workloads() {
		pod := decode[workload](t, d).pod()
		if pod == nil {
			t.Errorf("%s: no pod template", d)
			continue
		}
		if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext must set runAsNonRoot and a non-zero runAsUser", d)
		}
		volumes := map[string]bool{}
		for _, v := range pod.Spec.Volumes {
			volumes[v.Name] = true
			if v.Secret != nil {
				if _, ok := s.find("Secret", v.Secret.SecretName); !ok {
					t.Errorf("%s: volume %s uses undefined Secret %s", d, v.Name, v.Secret.SecretName)
				}
			}
			if v.PersistentVolumeClaim != nil {
				if _, ok := s.find("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName); !ok {
					t.Errorf("%s: volume %s uses undefined PVC %s", d, v.Name, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
			ours := strings.Contains(c.Image, "/nerstream/nerstream:")
			for _, p := range checkContainer(c, ours) {
				t.Errorf("%s: %s", d, p)
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("%s: %s mounts undefined volume %s", d, c.Name, m.Name)
				}
			}
			for _, ef := range c.EnvFrom {
				var kind, name string
				switch {
				case ef.ConfigMapRef != nil:
					kind, name = "ConfigMap", ef.ConfigMapRef.Name
				case ef.SecretRef != nil:
					kind, name = "Secret", ef.SecretRef.Name
				}
				src, ok := s.find(kind, name)
				if !ok {
					t.Errorf("%s: envFrom %s %q is not defined", d, kind, name)
					continue
				}
				var keys []string
				for k := range decode[keyed](t, src).keys() {
					keys = append(keys, k)
				}
				if bad := unknownEnv(keys); len(bad) > 0 {
					t.Errorf("%s: envFrom %s %s has keys that are not agreed env names: %v", d, kind, name, bad)
				}
			}
		}
	}
}

// metricsPortOf returns the port number of NERSTREAM_METRICS_ADDR.
func metricsPortOf(t *testing.T, cfg map[string]string) int {
	t.Helper()
	addr := cfg["NERSTREAM_METRICS_ADDR"]
	n, err := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	if err != nil {
		t.Fatalf("NERSTREAM_METRICS_ADDR %q: %v", addr, err)
	}
	return n
}

func TestK8sWorkerDeployment(t *testing.T) {
	s := loadK8s(t)
	cfg := s.config(t)
	dep := decode[workload](t, s.mustFind(t, "Deployment", "nerstream-worker"))
	if dep.Spec.Replicas != nil {
		t.Errorf("spec.replicas is set (%d): the KEDA HPA owns the replica count", *dep.Spec.Replicas)
	}
	pod := dep.pod()
	for k, v := range dep.Spec.Selector.MatchLabels {
		if pod.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels %v", k, v, pod.Metadata.Labels)
		}
	}
	port := metricsPortOf(t, cfg)
	if pod.Metadata.Annotations["prometheus.io/scrape"] != "true" || pod.Metadata.Annotations["prometheus.io/port"] != strconv.Itoa(port) || pod.Metadata.Annotations["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus annotations %v do not match the metrics port %d", pod.Metadata.Annotations, port)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	named := map[string]int{}
	for _, p := range c.Ports {
		named[p.Name] = p.ContainerPort
	}
	for name, pr := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if pr == nil || pr.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", name)
			continue
		}
		// Liveness asks only whether the process answers (/livez): /healthz is 503
		// for a replica without partitions (more replicas than partitions) or with
		// a stuck one, and restarting fixes neither.
		want := "/healthz"
		if name == "liveness" {
			want = "/livez"
		}
		if pr.HTTPGet.Path != want {
			t.Errorf("%s probe path %q, want %s", name, pr.HTTPGet.Path, want)
		}
		got := 0
		switch p := pr.HTTPGet.Port.(type) {
		case string:
			got = named[p]
		case float64:
			got = int(p)
		}
		if got != port {
			t.Errorf("%s probe port %v resolves to %d, want the metrics port %d", name, pr.HTTPGet.Port, got, port)
		}
	}
	drain, err := time.ParseDuration(cfg["NERSTREAM_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("NERSTREAM_SHUTDOWN_TIMEOUT: %v", err)
	}
	preStop := 0
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || (c.Lifecycle.PreStop.Sleep == nil && c.Lifecycle.PreStop.Exec == nil) {
		t.Error("no preStop hook")
	} else if c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	} else if slices.Contains(c.Lifecycle.PreStop.Exec.Command, "sleep") {
		t.Error("preStop exec sleep: the distroless image has no sleep binary (use lifecycle.preStop.sleep)")
	}
	grace := 30 // the Kubernetes default
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if time.Duration(grace)*time.Second <= drain+time.Duration(preStop)*time.Second {
		t.Errorf("terminationGracePeriodSeconds %d must exceed preStop %ds + shutdown timeout %v", grace, preStop, drain)
	}
	// /healthz is 503 during the drain: liveness must not kill a draining pod.
	if lp := c.LivenessProbe; lp != nil {
		period, failures := lp.PeriodSeconds, lp.FailureThreshold
		if period == 0 {
			period = 10
		}
		if failures == 0 {
			failures = 3
		}
		if window := time.Duration(period*failures) * time.Second; window <= drain {
			t.Errorf("liveness window %v (period x failureThreshold) <= shutdown timeout %v: the kubelet may kill a drain", window, drain)
		}
	}
	if len(c.EnvFrom) < 2 {
		t.Errorf("envFrom %v: want the ConfigMap and the Secret", c.EnvFrom)
	}
}

func TestK8sPDB(t *testing.T) {
	s := loadK8s(t)
	pdb := decode[workload](t, s.mustFind(t, "PodDisruptionBudget", "nerstream-worker"))
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Error("PDB sets neither maxUnavailable nor minAvailable")
	}
	labels := decode[workload](t, s.mustFind(t, "Deployment", "nerstream-worker")).pod().Metadata.Labels
	if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 {
		t.Fatal("PDB has no selector")
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("PDB selector %s=%s does not select the worker pods %v", k, v, labels)
		}
	}
}

// checkScaledObject compares a ScaledObject with the ConfigMap and the
// TriggerAuthentications.
func checkScaledObject(t *testing.T, s *k8sSet, d k8sDoc, exactMax bool) {
	t.Helper()
	cfg := s.config(t)
	so := decode[scaledObject](t, d)
	partitions, err := strconv.Atoi(cfg["NERSTREAM_PARTITIONS"])
	if err != nil {
		t.Fatalf("NERSTREAM_PARTITIONS %q: %v", cfg["NERSTREAM_PARTITIONS"], err)
	}
	max := so.Spec.MaxReplicaCount
	switch {
	case max == nil:
		t.Errorf("%s: maxReplicaCount unset", d)
	case exactMax && *max != partitions:
		t.Errorf("%s: maxReplicaCount %d, want the partition count %d", d, *max, partitions)
	case *max > partitions || *max < 1:
		t.Errorf("%s: maxReplicaCount %d outside 1..%d partitions", d, *max, partitions)
	}
	if so.Spec.MinReplicaCount != nil && max != nil && *so.Spec.MinReplicaCount > *max {
		t.Errorf("%s: minReplicaCount %d > maxReplicaCount %d", d, *so.Spec.MinReplicaCount, *max)
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("%s: want one kafka trigger, got %+v", d, so.Spec.Triggers)
	}
	tr := so.Spec.Triggers[0]
	for key, cfgKey := range map[string]string{"bootstrapServers": "NERSTREAM_BROKERS", "consumerGroup": "NERSTREAM_GROUP", "topic": "NERSTREAM_TOPIC"} {
		if tr.Metadata[key] != cfg[cfgKey] {
			t.Errorf("%s: trigger %s %q differs from the ConfigMap's %s %q", d, key, tr.Metadata[key], cfgKey, cfg[cfgKey])
		}
	}
	if n, err := strconv.Atoi(tr.Metadata["lagThreshold"]); err != nil || n <= 0 {
		t.Errorf("%s: lagThreshold %q must be a positive integer", d, tr.Metadata["lagThreshold"])
	}
	if tr.Metadata["allowIdleConsumers"] == "true" {
		t.Errorf("%s: allowIdleConsumers lets KEDA scale past the partition count", d)
	}
	if tr.AuthenticationRef == nil {
		t.Errorf("%s: no authenticationRef", d)
		return
	}
	ta, ok := s.find("TriggerAuthentication", tr.AuthenticationRef.Name)
	if !ok {
		t.Errorf("%s: TriggerAuthentication %q not defined", d, tr.AuthenticationRef.Name)
		return
	}
	for _, ref := range decode[triggerAuth](t, ta).Spec.SecretTargetRef {
		sec, ok := s.find("Secret", ref.Name)
		if !ok {
			t.Errorf("%s: Secret %q not defined", ta, ref.Name)
			continue
		}
		if _, ok := decode[keyed](t, sec).keys()[ref.Key]; !ok {
			t.Errorf("%s: Secret %s has no key %s", ta, ref.Name, ref.Key)
		}
	}
}

func TestK8sKEDA(t *testing.T) {
	s := loadK8s(t)
	d := s.mustFind(t, "ScaledObject", "nerstream-worker")
	if so := decode[scaledObject](t, d); so.Spec.ScaleTargetRef.Name != "nerstream-worker" {
		t.Errorf("scaleTargetRef %q, want the worker Deployment", so.Spec.ScaleTargetRef.Name)
	}
	checkScaledObject(t, s, d, true)
	for _, p := range s.docs {
		if p.Kind == "ScaledObject" && s.patches[p.file] {
			checkScaledObject(t, s, p, false)
		}
	}
}

func TestK8sPubMedCronJob(t *testing.T) {
	s := loadK8s(t)
	d := s.mustFind(t, "CronJob", "nerstream-pubmed-refresh")
	cj := decode[workload](t, d)
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if f := strings.Fields(cj.Spec.Schedule); len(f) != 5 {
		t.Errorf("schedule %q is not a 5-field cron expression", cj.Spec.Schedule)
	}
	pod := cj.pod()
	var prod *container
	for i, c := range pod.Spec.Containers {
		if slices.Contains(c.Command, "/app/bin/producer") {
			prod = &pod.Spec.Containers[i]
		}
	}
	if prod == nil {
		t.Fatal("no producer container")
	}
	if len(prod.Args) == 0 || prod.Args[0] != "pubmed" {
		t.Errorf("producer args %v, want pubmed ...", prod.Args)
	}
	manifest := ""
	for i, a := range prod.Args {
		if a == "--manifest" && i+1 < len(prod.Args) {
			manifest = prod.Args[i+1]
		}
	}
	for _, e := range prod.Env {
		if e.Name == "NERSTREAM_MANIFEST" {
			manifest = e.Value
		}
	}
	if !strings.HasPrefix(manifest, "s3://") {
		t.Errorf("manifest %q: want one in the bucket (s3://...)", manifest)
	}
	last := prod.Args[len(prod.Args)-1]
	mounted := false
	for _, m := range prod.VolumeMounts {
		mounted = mounted || strings.HasPrefix(last, m.MountPath+"/")
	}
	if !mounted {
		t.Errorf("producer reads %s, which is on no mounted volume", last)
	}
}

func TestK8sReplayJob(t *testing.T) {
	s := loadK8s(t)
	cfg := s.config(t)
	job := decode[workload](t, s.mustFind(t, "Job", "nerstream-replay-jnlpba-v3"))
	args := map[string]string{}
	c := job.pod().Spec.Containers[0]
	for i := 0; i+1 < len(c.Args); i++ {
		if strings.HasPrefix(c.Args[i], "--") {
			args[c.Args[i]] = c.Args[i+1]
		}
	}
	if args["--from"] != "earliest" {
		t.Errorf("--from %q, want earliest", args["--from"])
	}
	for flag, env := range map[string]string{"--group": "NERSTREAM_GROUP", "--model": "NERSTREAM_MODEL", "--out": "NERSTREAM_OUT"} {
		if args[flag] == "" || args[flag] == cfg[env] {
			t.Errorf("%s %q must be set and differ from the live %s %q", flag, args[flag], env, cfg[env])
		}
	}
	partitions, _ := strconv.Atoi(cfg["NERSTREAM_PARTITIONS"])
	if job.Spec.Parallelism == nil || *job.Spec.Parallelism > partitions {
		t.Errorf("parallelism %v must be set and <= %d partitions", job.Spec.Parallelism, partitions)
	}
	for _, dir := range []string{"k8s", "k8s/base", "k8s/gpu"} {
		for _, r := range s.kusts[dir].Resources {
			if strings.Contains(r, "replay") {
				t.Errorf("%s/kustomization.yaml includes %s: every apply would start a replay", dir, r)
			}
		}
	}
}

func TestK8sGPUOverlay(t *testing.T) {
	s := loadK8s(t)
	var patch *workload
	for _, d := range s.docs {
		if d.Kind == "Deployment" && s.patches[d.file] && strings.Contains(d.file, "gpu") {
			w := decode[workload](t, d)
			patch = &w
		}
	}
	if patch == nil {
		t.Fatal("no Deployment patch in the gpu overlay")
	}
	c := patch.pod().Spec.Containers[0]
	if !slices.Contains(c.Args, "--device") || c.Args[slices.Index(c.Args, "--device")+1] != "cuda" {
		t.Errorf("gpu worker args %v, want --device cuda", c.Args)
	}
	if bad := unknownFlags(c.Args, workerFlags); len(bad) > 0 {
		t.Errorf("gpu worker: unknown flags %v", bad)
	}
	if fmt.Sprint(c.Resources.Limits["nvidia.com/gpu"]) != "1" {
		t.Errorf("gpu worker limits %v, want nvidia.com/gpu: 1", c.Resources.Limits)
	}
	if !strings.Contains(c.Image, "cuda") || !pinned(c.Image) {
		t.Errorf("gpu worker image %q, want a pinned CUDA image", c.Image)
	}
}

// TestK8sKustomizeBuild renders every kustomization with the kustomize
// binary when one is on PATH (it is not a module dependency).
func TestK8sKustomizeBuild(t *testing.T) {
	bin, err := exec.LookPath("kustomize")
	if err != nil {
		t.Skip("kustomize not on PATH")
	}
	for _, dir := range []string{"k8s", "k8s/gpu", "k8s/replay"} {
		out, err := exec.Command(bin, "build", dir).CombinedOutput()
		if err != nil {
			t.Errorf("kustomize build %s: %v\n%s", dir, err, out)
		}
	}
}
