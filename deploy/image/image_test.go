package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// TestBuildImage runs scripts/build-image.sh as a user would (real sleuth
// binaries for amd64 and arm64) and reads the layout back with
// go-containerregistry's layout reader: a multi-platform index, each image
// non-root with sleuth as its entrypoint, a static binary of the right
// architecture, the nonroot user and the CA bundle in the filesystem.
func TestBuildImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sleuth for two platforms (minutes on a cold cache)")
	}
	root := testbackend.Root(t)
	out := filepath.Join(t.TempDir(), "image")
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-image.sh"), out)
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, b)
	}

	idx, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, desc := range im.Manifests {
		if desc.Platform == nil {
			t.Fatalf("manifest %s without a platform", desc.Digest)
		}
		platforms = append(platforms, desc.Platform.String())
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(desc.Platform.String(), func(t *testing.T) { checkImage(t, img, *desc.Platform) })
	}
	slices.Sort(platforms)
	if want := []string{"linux/amd64", "linux/arm64/v8"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func checkImage(t *testing.T, img v1.Image, p v1.Platform) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("config says %s/%s, the index %s", cf.OS, cf.Architecture, p)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{binaryPath}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %v cmd %v", c.Entrypoint, c.Cmd)
	}
	if c.Labels["org.opencontainers.image.version"] != "v0.0.0-test" {
		t.Errorf("labels %v", c.Labels)
	}
	files := filesystem(t, img)
	if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd:\n%s", files["etc/passwd"].data)
	}
	ca, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := files[strings.TrimPrefix(caPath, "/")].data; !bytes.Equal(got, ca) || !bytes.Contains(got, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("CA bundle: %d bytes, want Debian's %d", len(got), len(ca))
	}
	for dir, mode := range map[string]int64{"tmp": 0o1777, "var/lib/sleuth": 0o700} {
		if f, ok := files[dir]; !ok || f.mode != mode {
			t.Errorf("%s: %+v, want mode %o", dir, f, mode)
		}
	}
	if files["var/lib/sleuth"].uid != 65532 {
		t.Error("the data directory is not the nonroot user's")
	}

	bin := files[strings.TrimPrefix(binaryPath, "/")]
	if bin.mode&0o111 == 0 {
		t.Errorf("%s is not executable: %o", binaryPath, bin.mode)
	}
	f, err := elf.NewFile(bytes.NewReader(bin.data))
	if err != nil {
		t.Fatalf("%s: %v", binaryPath, err)
	}
	if f.Machine != elfMachine[p.Architecture] {
		t.Errorf("%s is built for %v", binaryPath, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: the image has no libc", binaryPath)
		}
	}
	// On a matching host the binary runs: it is the real sleuth.
	if p.Architecture == runtime.GOARCH {
		path := filepath.Join(t.TempDir(), "sleuth")
		if err := os.WriteFile(path, bin.data, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path, "version").Output()
		if err != nil || !strings.Contains(string(out), "v0.0.0-test") {
			t.Errorf("sleuth version: %q %v", out, err)
		}
	}
}

type file struct {
	mode int64
	uid  int
	data []byte
}

// filesystem flattens the image's layers into its files.
func filesystem(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]file{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		// Directories are named with and without a trailing slash.
		files[strings.TrimSuffix(h.Name, "/")] = file{mode: h.Mode, uid: h.Uid, data: data}
	}
}

// TestWriteIsReproducible: the same binaries give the same index digest, so
// a rebuilt release is byte for byte the published one.
func TestWriteIsReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sleuth")
	if err := os.WriteFile(bin, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Binaries:  map[string]string{"linux/amd64": bin, "linux/arm64": bin},
		Version:   "v1",
		CABundle:  caPath,
		CALicense: "/usr/share/doc/ca-certificates/copyright",
		Created:   time.Unix(1700000000, 0).UTC(),
	}
	a, err := Write(filepath.Join(dir, "a"), opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Write(filepath.Join(dir, "b"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("two builds of the same inputs: %s and %s", a, b)
	}
	opts.Version = "v2"
	if c, err := Write(filepath.Join(dir, "c"), opts); err != nil || c == a {
		t.Errorf("a different version gave the same digest %s (%v)", c, err)
	}
	if _, err := Write(filepath.Join(dir, "d"), Options{Binaries: map[string]string{"windows/amd64": bin}, CABundle: caPath, CALicense: opts.CALicense}); err == nil {
		t.Error("a windows image was written")
	}
}
