package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// base is the kustomize base as built, each object decoded into its type.
type base struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	// data is each ConfigMap's and Secret's keys and values, by
	// "ConfigMap/<name>" and "Secret/<name>", as envFrom reads them.
	data map[string]map[string]string
}

// decodeStrictly decodes one object by its apiVersion and kind into the
// Kubernetes API type, failing on a field the type lacks, a value of the
// wrong type or a key given twice, as the API server's strict field
// validation would; it records the object in b.
func (b *base) decodeStrictly(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/Deployment":
		obj = &appsv1.Deployment{}
	case "v1/Service":
		obj = &corev1.Service{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1/PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "v1/ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1/Secret":
		obj = &corev1.Secret{}
	default:
		return fmt.Errorf("%s %s: not a kind this test knows; add it here", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		b.deployment = once(b.deployment, o)
	case *corev1.Service:
		b.service = once(b.service, o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		b.hpa = once(b.hpa, o)
	case *policyv1.PodDisruptionBudget:
		b.pdb = once(b.pdb, o)
	case *corev1.ConfigMap:
		b.data["ConfigMap/"+o.Name] = o.Data
	case *corev1.Secret:
		d := maps.Clone(o.StringData)
		if d == nil {
			d = map[string]string{}
		}
		for k, v := range o.Data {
			d[k] = string(v)
		}
		b.data["Secret/"+o.Name] = d
	}
	return nil
}

// once keeps the first of a kind the base should have one of; a second
// leaves nil, which the checks report as missing.
func once[T any](have, got *T) *T {
	if have != nil {
		return nil
	}
	return got
}

// loadBase decodes kustomization.yaml and each file it lists strictly (kustomize
// itself lets unknown fields through), then builds the base as `kubectl
// apply -k` would and decodes what that gives.
func loadBase(t *testing.T) *base {
	t.Helper()
	raw, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	src := &base{data: map[string]map[string]string{}}
	for _, f := range k.Resources {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := src.decodeStrictly(raw); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Every manifest beside it is part of the base.
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(k.Resources, f) {
			t.Errorf("%s is not among kustomization.yaml's resources", f)
		}
	}

	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	b := &base{data: map[string]map[string]string{}}
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.decodeStrictly(doc); err != nil {
			t.Errorf("kustomize build: %v", err)
		}
	}
	if b.deployment == nil || b.service == nil || b.hpa == nil || b.pdb == nil {
		t.Fatalf("the base must have one Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget each; has %v %v %v %v",
			b.deployment != nil, b.service != nil, b.hpa != nil, b.pdb != nil)
	}
	if n := len(b.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the Deployment has %d containers, want the gateway's only", n)
	}
	return b
}

// container is the gateway's container.
func (b *base) container() *corev1.Container { return &b.deployment.Spec.Template.Spec.Containers[0] }

// env is the container's environment as the gateway sees it: the image's
// ENV, then envFrom in order, then env (later wins, as in Kubernetes). For
// a variable set from a reference, only its name is known ("").
func (b *base) env(t *testing.T, image dockerfile) map[string]string {
	t.Helper()
	env := maps.Clone(image.env)
	if env == nil {
		env = map[string]string{}
	}
	c := b.container()
	for _, from := range c.EnvFrom {
		var source string
		switch {
		case from.ConfigMapRef != nil:
			source = "ConfigMap/" + from.ConfigMapRef.Name
		case from.SecretRef != nil:
			source = "Secret/" + from.SecretRef.Name
		}
		data, ok := b.data[source]
		if !ok {
			t.Fatalf("envFrom names %s, which the base lacks", source)
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// setByManifests is the variables the manifests set (not the image).
func (b *base) setByManifests(t *testing.T) []string {
	t.Helper()
	var names []string
	for k := range b.env(t, dockerfile{}) {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// dockerfile is what the test reads of ../Dockerfile.
type dockerfile struct {
	goImage string            // the build stage's golang image tag
	build   string            // the RUN command that builds the binary
	output  string            // the -o path of that command
	env     map[string]string // the final stage's ENV
	expose  []string
	user    string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := dockerfile{env: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "FROM":
			if img, ok := strings.CutPrefix(rest, "golang:"); ok {
				d.goImage, _, _ = strings.Cut(img, " ")
			}
			d.env, d.expose, d.user = map[string]string{}, nil, "" // a new stage
		case "RUN":
			if strings.Contains(rest, "go build") {
				d.build = rest
				if m := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(rest); m != nil {
					d.output = m[1]
				}
			}
		case "ENV":
			k, v, _ := strings.Cut(rest, "=")
			d.env[k] = v
		case "EXPOSE":
			d.expose = strings.Fields(rest)
		case "USER":
			d.user = rest
		}
	}
	if d.build == "" || d.output == "" || d.goImage == "" {
		t.Fatalf("Dockerfile: want a golang:<version> build stage and a RUN ... go build -o <path> line; read %+v", d)
	}
	return d
}

// buildStacker builds the gateway with the Dockerfile's own build command,
// the output path changed to a temporary one, from the repository's root.
func buildStacker(t *testing.T, d dockerfile) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stacker")
	cmd := exec.Command("sh", "-c", strings.Replace(d.build, "-o "+d.output, "-o "+bin, 1))
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return bin
}

// stacker runs the built binary with args and exactly env, returning its
// exit code, stdout and stderr.
func stacker(t *testing.T, bin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", cmd, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// seconds reads a duration the way Stacker does.
func seconds(t *testing.T, env map[string]string, name string) float64 {
	t.Helper()
	v, ok := env[name]
	if !ok {
		t.Fatalf("%s is not set in the manifests; the grace period is computed from it, so set it beside it", name)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d.Seconds()
}

func TestBase(t *testing.T) {
	b := loadBase(t)
	d := readDockerfile(t)
	bin := buildStacker(t, d)
	env := b.env(t, d)
	pod := &b.deployment.Spec.Template.Spec
	c := b.container()

	t.Run("binary is static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		libs, _ := f.ImportedLibraries()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("the binary asks for a dynamic loader (PT_INTERP); CGO_ENABLED=0 makes it static")
			}
		}
		if len(libs) > 0 {
			t.Errorf("the binary links %v dynamically", libs)
		}
	})

	t.Run("Dockerfile builds with go.mod's Go, as non-root", func(t *testing.T) {
		mod, err := os.ReadFile("../go.mod")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
		if m == nil || !strings.HasPrefix(d.goImage, string(m[1])+"-") && d.goImage != string(m[1]) {
			t.Errorf("Dockerfile builds with golang:%s, go.mod says go %s", d.goImage, m[1])
		}
		if !strings.Contains(d.build, "CGO_ENABLED=0") {
			t.Errorf("the build %q does not set CGO_ENABLED=0", d.build)
		}
		uid, _, _ := strings.Cut(d.user, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("USER %q: want a numeric non-root user, so runAsNonRoot can verify it", d.user)
		} else if pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser != int64(n) {
			t.Errorf("the pod runs as %v, the image as %d", pod.SecurityContext.RunAsUser, n)
		}
	})

	t.Run("every variable set is one config reads", func(t *testing.T) {
		code, out, stderr := stacker(t, bin, nil, "config", "vars")
		if code != 0 {
			t.Fatalf("stacker config vars: exit %d\n%s", code, stderr)
		}
		known := strings.Fields(out)
		for _, name := range append(b.setByManifests(t), slices.Collect(maps.Keys(d.env))...) {
			if !slices.Contains(known, name) {
				t.Errorf("%s is set, but Stacker does not read it (stacker config vars)", name)
			}
		}
	})

	t.Run("the environment passes config check", func(t *testing.T) {
		if code, out, stderr := stacker(t, bin, env, "config", "check"); code != 0 || !strings.Contains(out, "(production)") {
			t.Errorf("stacker config check with the manifests' environment: exit %d\n%s%s", code, out, stderr)
		}
	})

	t.Run("container port is STACKER_ADDR's", func(t *testing.T) {
		_, port, err := net.SplitHostPort(env["STACKER_ADDR"])
		if err != nil {
			t.Fatalf("STACKER_ADDR=%q: %v", env["STACKER_ADDR"], err)
		}
		if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port {
			t.Fatalf("container ports %+v, want the one of STACKER_ADDR (%s)", c.Ports, port)
		}
		if !slices.Equal(d.expose, []string{port}) {
			t.Errorf("Dockerfile EXPOSE %v, want %s", d.expose, port)
		}
		named := intstr.FromString(c.Ports[0].Name)
		number := intstr.FromInt32(c.Ports[0].ContainerPort)
		refs := map[string]intstr.IntOrString{"liveness probe": c.LivenessProbe.HTTPGet.Port, "readiness probe": c.ReadinessProbe.HTTPGet.Port}
		for _, p := range b.service.Spec.Ports {
			refs["Service port "+p.Name] = p.TargetPort
		}
		for what, ref := range refs {
			if ref != named && ref != number {
				t.Errorf("%s targets %s, not the container port %s (%d)", what, ref.String(), named.StrVal, number.IntVal)
			}
		}
	})

	t.Run("probe paths answer", func(t *testing.T) {
		probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
		// Liveness must not follow the dependencies (a broker outage would
		// restart every replica), readiness must.
		for name, want := range map[string]string{"liveness": "/healthz", "readiness": "/readyz"} {
			if p := probes[name]; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want {
				t.Errorf("%s probe: want GET %s", name, want)
			}
		}
		addr := serve(t, bin)
		for name, p := range probes {
			if p == nil || p.HTTPGet == nil {
				continue
			}
			resp, err := http.Get("http://" + addr + p.HTTPGet.Path)
			if err != nil {
				t.Fatalf("%s probe: %v", name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s probe GET %s = %d, want 200 from a running gateway", name, p.HTTPGet.Path, resp.StatusCode)
			}
		}
	})

	t.Run("grace period covers the shutdown", func(t *testing.T) {
		need := seconds(t, env, "STACKER_SHUTDOWN_DELAY") + seconds(t, env, "STACKER_SHUTDOWN_TIMEOUT")
		if ps := c.Lifecycle; ps != nil && ps.PreStop != nil {
			if ps.PreStop.Sleep == nil {
				t.Fatalf("preStop %+v: the image has no shell, so only a sleep action can run", ps.PreStop)
			}
			need += float64(ps.PreStop.Sleep.Seconds) // the kubelet sends SIGTERM after it
		}
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if pod.TerminationGracePeriodSeconds != nil {
			grace = *pod.TerminationGracePeriodSeconds
		}
		if float64(grace) < math.Ceil(need)+1 {
			t.Errorf("terminationGracePeriodSeconds %d, want at least %v: preStop + STACKER_SHUTDOWN_DELAY + STACKER_SHUTDOWN_TIMEOUT, and a second to close", grace, math.Ceil(need)+1)
		}
	})

	t.Run("security context", func(t *testing.T) {
		sc, psc := c.SecurityContext, pod.SecurityContext
		if sc == nil || psc == nil {
			t.Fatal("want a pod and a container securityContext")
		}
		checks := []struct {
			what string
			ok   bool
		}{
			{"pod runAsNonRoot", psc.RunAsNonRoot != nil && *psc.RunAsNonRoot},
			{"pod seccompProfile RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
			{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
			{"allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
			{"capabilities drop ALL, add none", sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") && len(sc.Capabilities.Add) == 0},
			{"no service account token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
			{"/tmp writable (emptyDir)", mountsEmptyDir(pod, c, "/tmp")},
			{"cpu and memory requested, memory limited", !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero() && !c.Resources.Limits.Memory().IsZero()},
		}
		for _, ch := range checks {
			if !ch.ok {
				t.Errorf("%s: not so", ch.what)
			}
		}
	})

	t.Run("Service, autoscaler and budget select the pods", func(t *testing.T) {
		labels := b.deployment.Spec.Template.Labels
		sel, err := metav1.LabelSelectorAsMap(b.deployment.Spec.Selector)
		if err != nil || !subset(sel, labels) {
			t.Errorf("the Deployment's selector %v does not select its pods %v", sel, labels)
		}
		if s := b.service.Spec.Selector; len(s) == 0 || !subset(s, labels) {
			t.Errorf("the Service selects %v, the pods are %v", s, labels)
		}
		if s, err := metav1.LabelSelectorAsMap(b.pdb.Spec.Selector); err != nil || len(s) == 0 || !subset(s, labels) {
			t.Errorf("the PodDisruptionBudget selects %v, the pods are %v", s, labels)
		}
		ref := b.hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != b.deployment.Name {
			t.Errorf("the autoscaler scales %+v, not Deployment %s", ref, b.deployment.Name)
		}
		if b.deployment.Spec.Replicas != nil {
			t.Error("the Deployment sets replicas, which every apply would reset under the autoscaler")
		}
		if m := b.hpa.Spec.MinReplicas; m == nil || *m < 2 {
			t.Errorf("autoscaler minReplicas %v: want 2 or more, so the budget lets a node drain", m)
		}
	})
}

// serve starts the built gateway (embedded demo services, a free port) and
// returns its address; SIGTERM stops it at the test's end, and it must
// exit 0.
func serve(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"STACKER_ADDR=127.0.0.1:0"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`GraphQL\s+http://(\S+)/graphql`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("stacker after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("stacker did not exit within 30s of SIGTERM")
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case addr := <-addrc:
		return addr
	case err := <-exited:
		t.Fatalf("stacker exited before it served: %v\n%s", err, stderr.String())
	case <-ctx.Done():
		t.Fatalf("stacker did not print its address within a minute\n%s", stderr.String())
	}
	return ""
}

func mountsEmptyDir(pod *corev1.PodSpec, c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
