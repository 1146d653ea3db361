package deploy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// dockerfiles are the images built from the repository root.
var dockerfiles = []string{"Dockerfile", "Dockerfile.cuda"}

// dfStage is one FROM section of a Dockerfile.
type dfStage struct {
	name  string // the AS name, lower case; "" when unnamed
	image string // the FROM argument with build args expanded
	line  int
	insts []*parser.Node
	args  map[string]string // ARG defaults visible in the stage
}

// dfFile is a parsed Dockerfile: the global ARG defaults and the stages.
type dfFile struct {
	globalArgs map[string]string
	stages     []*dfStage
	warnings   []string
}

var argRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes ${NAME} and $NAME from args; unknown names are reported.
func expand(s string, args map[string]string) (string, error) {
	var missing []string
	out := argRef.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		v, ok := args[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return out, fmt.Errorf("%q uses undefined build args %v", s, missing)
	}
	return out, nil
}

// parseDockerfile parses with BuildKit's parser and splits the stages.
func parseDockerfile(r io.Reader) (*dfFile, error) {
	res, err := parser.Parse(r)
	if err != nil {
		return nil, err
	}
	f := &dfFile{globalArgs: map[string]string{}}
	for _, w := range res.Warnings {
		f.warnings = append(f.warnings, w.Short)
	}
	var cur *dfStage
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "from":
			if n.Next == nil {
				return nil, fmt.Errorf("line %d: FROM without an image", n.StartLine)
			}
			img, err := expand(n.Next.Value, f.globalArgs)
			if err != nil {
				return nil, fmt.Errorf("line %d: FROM %w", n.StartLine, err)
			}
			cur = &dfStage{image: img, line: n.StartLine, args: map[string]string{}}
			if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
				cur.name = strings.ToLower(as.Next.Value)
			}
			f.stages = append(f.stages, cur)
		case "arg":
			for a := n.Next; a != nil; a = a.Next {
				name, def, hasDef := strings.Cut(a.Value, "=")
				target := f.globalArgs
				if cur != nil {
					target = cur.args
					if !hasDef {
						def, hasDef = f.globalArgs[name]
					}
				}
				if hasDef {
					d, err := expand(def, mergeArgs(f.globalArgs, target))
					if err != nil && cur != nil {
						return nil, fmt.Errorf("line %d: ARG %w", n.StartLine, err)
					}
					def = d
				}
				target[name] = def
			}
		default:
			if cur == nil {
				return nil, fmt.Errorf("line %d: %s before the first FROM", n.StartLine, n.Value)
			}
			cur.insts = append(cur.insts, n)
		}
	}
	if len(f.stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return f, nil
}

func mergeArgs(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// words returns the arguments of an instruction.
func words(n *parser.Node) []string {
	var w []string
	for a := n.Next; a != nil; a = a.Next {
		w = append(w, a.Value)
	}
	return w
}

// flagValue returns the value of --name=value among the instruction's flags.
func flagValue(n *parser.Node, name string) (string, bool) {
	for _, f := range n.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// envPairs returns the NAME=value pairs of an ENV instruction.
func envPairs(n *parser.Node) map[string]string {
	m := map[string]string{}
	w := words(n)
	for i := 0; i+1 < len(w); i += 3 { // name, value, separator
		m[w[i]] = w[i+1]
	}
	return m
}

// pinned reports whether an image reference names a fixed version: a digest,
// or an explicit tag other than latest.
func pinned(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash {
		return false
	}
	tag := ref[colon+1:]
	return tag != "" && tag != "latest"
}

var urlSource = regexp.MustCompile(`^(https?|ftp|git)://|^git@|\.git(#.*)?$`)

// lintDockerfile returns the rule violations of a parsed Dockerfile.
func lintDockerfile(f *dfFile) []string {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	for _, w := range f.warnings {
		add("parser warning: %s", w)
	}
	if len(f.stages) < 2 {
		add("single stage: build tools end up in the runtime image (want a multi-stage build)")
	}
	names := map[string]bool{}
	for _, st := range f.stages {
		switch {
		case names[strings.ToLower(st.image)]:
			// FROM an earlier stage.
		case st.image == "scratch":
		case !pinned(st.image):
			add("line %d: base image %q is not pinned (want a version tag or a digest)", st.line, st.image)
		}
		if st.name != "" {
			if names[st.name] {
				add("line %d: stage name %q used twice", st.line, st.name)
			}
			names[st.name] = true
		}
		for _, n := range st.insts {
			switch strings.ToLower(n.Value) {
			case "add":
				for _, src := range words(n) {
					if urlSource.MatchString(src) {
						add("line %d: ADD from a URL (%s): download with a checked RUN step instead", n.StartLine, src)
					}
				}
			case "copy":
				if from, ok := flagValue(n, "from"); ok && !names[strings.ToLower(from)] {
					add("line %d: COPY --from=%s does not name an earlier stage", n.StartLine, from)
				}
			case "env":
				for k := range envPairs(n) {
					if strings.HasPrefix(k, "NERSTREAM_") && !knownEnv[k] {
						add("line %d: ENV %s is not an agreed env name", n.StartLine, k)
					}
				}
			}
		}
	}
	final := f.stages[len(f.stages)-1]
	user := ""
	var entrypoint, healthcheck *parser.Node
	for _, n := range final.insts {
		switch strings.ToLower(n.Value) {
		case "user":
			if n.Next != nil {
				user = n.Next.Value
			}
		case "entrypoint":
			entrypoint = n
		case "healthcheck":
			healthcheck = n
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		add("final stage runs as %q: want a non-root USER (numeric, so Kubernetes can verify runAsNonRoot)", user)
	}
	if entrypoint == nil {
		add("final stage has no ENTRYPOINT")
	} else if !entrypoint.Attributes["json"] {
		add("line %d: ENTRYPOINT in shell form: SIGTERM would reach the shell, not the worker", entrypoint.StartLine)
	}
	if healthcheck == nil {
		add("final stage has no HEALTHCHECK")
	}
	return problems
}

func readDockerfile(t *testing.T, name string) *dfFile {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := parseDockerfile(fh)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return f
}

func TestLintDockerfileRejects(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"single stage", "FROM debian:12\nUSER 1000\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "single stage"},
		{"latest", "FROM golang:latest AS b\nFROM debian:12\nUSER 1\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "not pinned"},
		{"no tag", "ARG IMG=golang\nFROM ${IMG} AS b\nFROM debian:12\nUSER 1\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "not pinned"},
		{"root", "FROM golang:1.26 AS b\nFROM debian:12\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "non-root"},
		{"root explicit", "FROM golang:1.26 AS b\nFROM debian:12\nUSER 0:0\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "non-root"},
		{"add url", "FROM golang:1.26 AS b\nADD https://example.com/x.tgz /x\nFROM debian:12\nUSER 1\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "ADD from a URL"},
		{"copy from unknown", "FROM golang:1.26 AS b\nFROM debian:12\nCOPY --from=bild /x /x\nUSER 1\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "earlier stage"},
		{"shell entrypoint", "FROM golang:1.26 AS b\nFROM debian:12\nUSER 1\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT /x run\n", "shell form"},
		{"unknown env", "FROM golang:1.26 AS b\nFROM debian:12\nENV NERSTREAM_MODELS=/m\nUSER 1\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n", "NERSTREAM_MODELS"},
		{"no healthcheck", "FROM golang:1.26 AS b\nFROM debian:12\nUSER 1\nENTRYPOINT [\"x\"]\n", "HEALTHCHECK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseDockerfile(strings.NewReader(tt.src))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			problems := lintDockerfile(f)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
	ok := "ARG B=golang:1.26.8-bookworm\nFROM ${B} AS build\nFROM gcr.io/distroless/cc-debian12:nonroot\nCOPY --from=build /x /x\nUSER 65532:65532\nHEALTHCHECK CMD [\"x\"]\nENTRYPOINT [\"x\"]\n"
	f, err := parseDockerfile(strings.NewReader(ok))
	if err != nil {
		t.Fatal(err)
	}
	if p := lintDockerfile(f); len(p) > 0 {
		t.Errorf("clean Dockerfile: unexpected problems %q", p)
	}
	if _, err := parseDockerfile(strings.NewReader("FROM ${NOPE}\n")); err == nil {
		t.Error("FROM with an undefined build arg: want an error")
	}
}

func TestDockerfilesLint(t *testing.T) {
	for _, name := range dockerfiles {
		t.Run(name, func(t *testing.T) {
			for _, p := range lintDockerfile(readDockerfile(t, name)) {
				t.Errorf("%s: %s", name, p)
			}
		})
	}
}

// finalEnv returns the ENV settings of the last stage, expanded.
func finalEnv(t *testing.T, f *dfFile) map[string]string {
	t.Helper()
	st := f.stages[len(f.stages)-1]
	env := map[string]string{}
	for _, n := range st.insts {
		if strings.EqualFold(n.Value, "env") {
			for k, v := range envPairs(n) {
				x, err := expand(v, st.args)
				if err != nil {
					t.Errorf("ENV %s: %v", k, err)
				}
				env[k] = x
			}
		}
	}
	return env
}

func TestDockerfilesRuntime(t *testing.T) {
	for _, name := range dockerfiles {
		t.Run(name, func(t *testing.T) {
			f := readDockerfile(t, name)
			final := f.stages[len(f.stages)-1]
			env := finalEnv(t, f)
			var copies []string
			var entry []string
			for _, n := range final.insts {
				switch strings.ToLower(n.Value) {
				case "copy":
					w := words(n)
					dst, _ := expand(w[len(w)-1], final.args)
					copies = append(copies, dst)
				case "entrypoint":
					entry = words(n)
				}
			}
			if lib := env["ONNXRUNTIME_LIB"]; !slices.ContainsFunc(copies, func(d string) bool {
				return d == lib || strings.HasSuffix(lib, "/libonnxruntime.so.1") && d == filepath.Dir(lib)+"/"
			}) {
				t.Errorf("ONNXRUNTIME_LIB=%q is not copied into the final stage (copies: %v)", lib, copies)
			}
			if model := env["NERSTREAM_MODEL"]; !slices.Contains(copies, model+"/") {
				t.Errorf("NERSTREAM_MODEL=%q is not copied into the final stage (copies: %v)", model, copies)
			}
			if len(entry) != 1 || entry[0] != "/app/bin/worker" {
				t.Errorf("ENTRYPOINT %v, want [/app/bin/worker]", entry)
			}
			wantDevice := map[string]string{"Dockerfile": "cpu", "Dockerfile.cuda": "cuda"}[name]
			if env["NERSTREAM_DEVICE"] != wantDevice {
				t.Errorf("NERSTREAM_DEVICE=%q, want %q", env["NERSTREAM_DEVICE"], wantDevice)
			}
			// The build stage must build every binary the final stage runs.
			var build string
			for _, st := range f.stages {
				for _, n := range st.insts {
					if strings.EqualFold(n.Value, "run") && strings.Contains(n.Original, "go build") {
						build = n.Original
					}
				}
			}
			for _, pkg := range []string{"./worker", "./producer", "./deploy/healthprobe"} {
				if !strings.Contains(build, pkg+" ") && !strings.HasSuffix(build, pkg) {
					t.Errorf("go build does not build %s: %q", pkg, build)
				}
			}
		})
	}
}

func TestDockerfilesONNXRuntime(t *testing.T) {
	cpu := readDockerfile(t, "Dockerfile")
	ort := cpu.stages[0]
	if ort.args["ORT_VERSION"] != "1.24.1" || len(ort.args["ORT_SHA256"]) != 64 {
		t.Errorf("CPU image: ORT_VERSION=%q ORT_SHA256=%q, want 1.24.1 and a sha256", ort.args["ORT_VERSION"], ort.args["ORT_SHA256"])
	}
	if !strings.Contains(ort.insts[len(ort.insts)-1].Original, "onnxruntime-node@${ORT_VERSION}") {
		t.Error("CPU image: ONNX Runtime is not taken from the npm package onnxruntime-node")
	}
	gpu := readDockerfile(t, "Dockerfile.cuda")
	var fetch string
	for _, st := range gpu.stages {
		for _, n := range st.insts {
			if strings.Contains(n.Original, "github.com/microsoft/onnxruntime/releases/download") {
				fetch = n.Original
				if st.args["ORT_VERSION"] != "1.24.1" {
					t.Errorf("CUDA image: ORT_VERSION=%q, want 1.24.1", st.args["ORT_VERSION"])
				}
				if asset, _ := expand(st.args["ORT_GPU_ASSET"], st.args); asset != "onnxruntime-linux-x64-gpu-1.24.1" {
					t.Errorf("CUDA image: asset %q, want onnxruntime-linux-x64-gpu-1.24.1", asset)
				}
			}
		}
	}
	if fetch == "" || !strings.Contains(fetch, "sha256sum") {
		t.Errorf("CUDA image: no checked download of the ONNX Runtime GPU release: %q", fetch)
	}
	base := gpu.stages[len(gpu.stages)-1].image
	if !strings.HasPrefix(base, "nvidia/cuda:12.") || !strings.Contains(base, "cudnn") || !strings.Contains(base, "runtime") {
		t.Errorf("CUDA image: runtime base %q, want nvidia/cuda 12.x cudnn runtime", base)
	}
}

// TestDockerignore checks the Dockerfile-specific ignore files against what
// the Dockerfiles copy from the context and what must never be sent.
func TestDockerignore(t *testing.T) {
	for _, name := range dockerfiles {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(name + ".dockerignore")
			if err != nil {
				t.Fatalf("BuildKit reads %s.dockerignore for this Dockerfile: %v", name, err)
			}
			patterns, err := ignorefile.ReadAll(strings.NewReader(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			pm, err := patternmatcher.New(patterns)
			if err != nil {
				t.Fatal(err)
			}
			excluded := func(p string) bool {
				ok, err := pm.MatchesOrParentMatches(p)
				if err != nil {
					t.Fatalf("match %s: %v", p, err)
				}
				return ok
			}
			keep := []string{"go.mod", "go.sum", "worker/main.go", "producer/main.go", "internal/model/model.go",
				"deploy/healthprobe/main.go", "models/jnlpba-v2/model.onnx", "models/jnlpba-v2-int8/config.json",
				"internal/pubmed/testdata/x.xml"}
			// Every context path a COPY names must survive the filter.
			f := readDockerfile(t, name)
			for _, st := range f.stages {
				for _, n := range st.insts {
					if !strings.EqualFold(n.Value, "copy") {
						continue
					}
					if _, ok := flagValue(n, "from"); ok {
						continue
					}
					w := words(n)
					for _, src := range w[:len(w)-1] {
						p, err := expand(src, st.args)
						if err != nil {
							t.Error(err)
						}
						if p = strings.Trim(p, "/"); p != "." {
							keep = append(keep, p+"/x")
						}
					}
				}
			}
			for _, p := range keep {
				if excluded(p) {
					t.Errorf("%s.dockerignore excludes %s, which the build needs", name, p)
				}
			}
			for _, p := range []string{".git/config", ".cache/onnxruntime/libonnxruntime.so.1", "bin/worker",
				"models/train/work/ckpt.pt", "testdata/pubmed/pubmed25n0001.xml.gz", "x/node_modules/y", ".env"} {
				if !excluded(p) {
					t.Errorf("%s.dockerignore sends %s to the builder", name, p)
				}
			}
		})
	}
}

// TestDefaultModelPresent: the bundle each image copies by default (its
// MODEL build arg) is in the tree with every file a bundle needs, so
// `docker build` cannot fail at that COPY.
func TestDefaultModelPresent(t *testing.T) {
	for _, name := range dockerfiles {
		t.Run(name, func(t *testing.T) {
			df := readDockerfile(t, name)
			model := ""
			for _, st := range df.stages {
				if m, ok := st.args["MODEL"]; ok {
					model = m
				}
			}
			if model == "" {
				t.Fatalf("%s has no ARG MODEL default in any stage", name)
			}
			for _, f := range []string{"model.onnx", "config.json", "tokenizer.json", "MODEL_CARD.md"} {
				p := filepath.Join("..", "models", model, f)
				if st, err := os.Stat(p); err != nil || st.Size() == 0 {
					t.Errorf("%s copies models/%s, but %s is missing or empty (%v)", name, model, p, err)
				}
			}
		})
	}
}

func FuzzParseDockerfile(f *testing.F) {
	for _, name := range dockerfiles {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(string(data))
		}
	}
	f.Add("FROM ${X}\n")
	f.Add("ARG A\nFROM a:$A AS b\nUSER\n")
	f.Fuzz(func(t *testing.T, src string) {
		df, err := parseDockerfile(strings.NewReader(src))
		if err != nil {
			return
		}
		_ = lintDockerfile(df) // must not panic on any parsed input
	})
}
