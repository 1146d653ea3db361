package deploy

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// imageUID returns the numeric UID the final stage of a Dockerfile runs as,
// and problems that would stop the container from running non-root with a
// read-only root filesystem: no RUN or VOLUME in the final stage (nothing is
// written into the image for it, no writable volume is needed) and no
// COPY --chown (the application cannot rewrite its own binaries or model).
func imageUID(t *testing.T, f *dfFile) (int, []string) {
	t.Helper()
	final := f.stages[len(f.stages)-1]
	uid := -1
	var p []string
	for _, n := range final.insts {
		switch strings.ToLower(n.Value) {
		case "user":
			if n.Next != nil {
				u, _, _ := strings.Cut(n.Next.Value, ":")
				v, err := strconv.Atoi(u)
				if err != nil {
					p = append(p, "USER "+n.Next.Value+" is not numeric")
				}
				uid = v
			}
		case "run", "volume":
			p = append(p, "line "+strconv.Itoa(n.StartLine)+": "+strings.ToUpper(n.Value)+" in the final stage")
		case "copy", "add":
			if _, ok := flagValue(n, "chown"); ok {
				p = append(p, "line "+strconv.Itoa(n.StartLine)+": COPY --chown makes application files writable by the runtime user")
			}
		}
	}
	if uid <= 0 {
		p = append(p, "final stage does not run as a numeric non-root USER")
	}
	return uid, p
}

// TestContainersNonRootReadOnly: both images run as a numeric non-root UID
// and need nothing writable; every Kubernetes workload with our image runs
// as that UID with a read-only root filesystem; the compose services built
// from the images do the same (user, read_only, /tmp as tmpfs).
func TestContainersNonRootReadOnly(t *testing.T) {
	uids := map[int]bool{}
	for _, name := range []string{"Dockerfile", "Dockerfile.cuda"} {
		uid, problems := imageUID(t, readDockerfile(t, name))
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
		uids[uid] = true
	}

	s := loadK8s(t)
	checked := 0
	for _, d := range s.workloads() {
		pod := decode[workload](t, d).pod()
		if pod == nil {
			continue
		}
		for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
			if !strings.Contains(c.Image, "/nerstream/nerstream:") {
				continue
			}
			checked++
			sc := pod.Spec.SecurityContext
			if sc == nil || sc.RunAsUser == nil || !uids[*sc.RunAsUser] || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("%s: %s must run as the image's UID %v with runAsNonRoot", d, c.Name, uids)
			}
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("%s: %s: root filesystem not read-only", d, c.Name)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Kubernetes container runs the nerstream image")
	}

	p := loadCompose(t)
	for _, name := range []string{"producer", "worker", "worker-gpu"} {
		svc := service(t, p, name)
		u, _, _ := strings.Cut(svc.User, ":")
		uid, err := strconv.Atoi(u)
		if err != nil || !uids[uid] {
			t.Errorf("compose %s: user %q, want the image's UID %v", name, svc.User, uids)
		}
		if !svc.ReadOnly {
			t.Errorf("compose %s: read_only must be true", name)
		}
		if !slices.Contains(svc.Tmpfs, "/tmp") {
			t.Errorf("compose %s: tmpfs %v, want /tmp", name, svc.Tmpfs)
		}
	}
}

// TestImageUIDRejects: the Dockerfile check catches root, RUN and --chown.
func TestImageUIDRejects(t *testing.T) {
	for _, tc := range []struct{ name, df, want string }{
		{"root", "FROM a:1 AS b\nFROM c:1\nUSER 0\n", "non-root"},
		{"named user", "FROM a:1 AS b\nFROM c:1\nUSER app\n", "numeric"},
		{"run", "FROM a:1 AS b\nFROM c:1\nRUN touch /x\nUSER 1000\n", "RUN in the final stage"},
		{"volume", "FROM a:1 AS b\nFROM c:1\nVOLUME /data\nUSER 1000\n", "VOLUME in the final stage"},
		{"chown", "FROM a:1 AS b\nFROM c:1\nCOPY --from=b --chown=1000 /x /x\nUSER 1000\n", "--chown"},
	} {
		f, err := parseDockerfile(strings.NewReader(tc.df))
		if err != nil {
			t.Fatal(err)
		}
		_, p := imageUID(t, f)
		if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
			t.Errorf("%s: problems %q, want one containing %q", tc.name, p, tc.want)
		}
	}
	ok, _ := parseDockerfile(strings.NewReader("FROM a:1 AS b\nFROM c:1\nCOPY --from=b /x /x\nUSER 65532:65532\n"))
	if uid, p := imageUID(t, ok); uid != 65532 || len(p) > 0 {
		t.Errorf("good Dockerfile: uid %d, problems %v", uid, p)
	}
}
