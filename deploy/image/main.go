// Command image writes sleuth's container image as an OCI image layout: a
// multi-platform index of one image per sleuth binary, without a container
// engine or a base image to download (scripts/build-image.sh runs it).
//
// Each image has two layers. The base layer is a minimal root filesystem
// built here, in the spirit of distroless/static: /etc/passwd and
// /etc/group with root and the nonroot user (uid and gid 65532), the CA
// bundle of Debian's ca-certificates package with its copyright file, /tmp,
// and the nonroot user's home and data directories. The second layer is the
// static sleuth binary. The image runs as 65532:65532. Every file has the
// same timestamp (SOURCE_DATE_EPOCH, else 0), so the same binaries give the
// same digests.
//
// Usage:
//
//	go run ./deploy/image -out dist/image -version v0.1.0 \
//	    -binary linux/amd64=bin/linux_amd64/sleuth -binary linux/arm64=bin/linux_arm64/sleuth
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: distroless' nonroot uid and gid, which the Helm chart's
// securityContext names too.
const (
	uid  = 65532
	user = "nonroot"
)

// Paths inside the image.
const (
	binaryPath = "/usr/local/bin/sleuth"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	dataDir    = "/var/lib/sleuth"
)

// Options say what to build.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to a static sleuth binary.
	Binaries map[string]string
	// Version becomes the org.opencontainers.image.version label and the
	// ref.name annotation of each manifest.
	Version string
	// Revision is the source commit, if known.
	Revision string
	// CABundle and CALicense are Debian's CA bundle and its copyright file.
	CABundle, CALicense string
	// Created is the timestamp of every file and of the images.
	Created time.Time
}

func main() {
	opts := Options{Binaries: map[string]string{}}
	flag.Func("binary", "`PLATFORM=PATH` of a static sleuth binary (repeat per platform, e.g. linux/arm64=...)", func(s string) error {
		p, file, ok := strings.Cut(s, "=")
		if !ok {
			return errors.New("want PLATFORM=PATH")
		}
		opts.Binaries[p] = file
		return nil
	})
	out := flag.String("out", "dist/image", "OCI image layout `directory` to write (replaced)")
	flag.StringVar(&opts.Version, "version", "dev", "image version")
	flag.StringVar(&opts.Revision, "revision", "", "source revision")
	flag.StringVar(&opts.CABundle, "ca-bundle", caPath, "CA bundle `file` (Debian's ca-certificates)")
	flag.StringVar(&opts.CALicense, "ca-license", "/usr/share/doc/ca-certificates/copyright", "the CA bundle's copyright `file`")
	flag.Parse()
	opts.Created = time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "image: SOURCE_DATE_EPOCH:", err)
			os.Exit(2)
		}
		opts.Created = time.Unix(sec, 0).UTC()
	}
	digest, err := Write(*out, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: index %s\n", *out, digest)
}

// Write writes the OCI image layout to dir (removing what was there) and
// returns the digest of its image index.
func Write(dir string, opts Options) (v1.Hash, error) {
	if len(opts.Binaries) == 0 {
		return v1.Hash{}, errors.New("no binaries: give -binary PLATFORM=PATH")
	}
	base, err := baseLayer(opts)
	if err != nil {
		return v1.Hash{}, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, platform := range slices.Sorted(maps.Keys(opts.Binaries)) {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("platform %q: %w", platform, err)
		}
		if p.OS != "linux" {
			return v1.Hash{}, fmt.Errorf("platform %q: sleuth's image is linux only", platform)
		}
		if p.Architecture == "arm64" && p.Variant == "" {
			p.Variant = "v8" // what registries and runtimes expect for arm64
		}
		img, err := image(base, opts.Binaries[platform], *p, opts)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s: %w", platform, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform:    p,
				Annotations: map[string]string{"org.opencontainers.image.ref.name": opts.Version},
			},
		})
	}
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	// The layout's own index.json is the multi-platform index: `crane push
	// --index DIR REF` pushes it as one multi-arch tag.
	if _, err := layout.Write(dir, idx); err != nil {
		return v1.Hash{}, fmt.Errorf("write %s: %w", dir, err)
	}
	return idx.Digest()
}

func image(base v1.Layer, binary string, p v1.Platform, opts Options) (v1.Image, error) {
	app, err := binaryLayer(binary, opts.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{CreatedBy: "sleuth deploy/image: base (passwd, CA certificates)", Created: v1.Time{Time: opts.Created}}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{CreatedBy: "sleuth deploy/image: " + binaryPath, Created: v1.Time{Time: opts.Created}}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: opts.Created}
	labels := map[string]string{
		"org.opencontainers.image.title":       "sleuth",
		"org.opencontainers.image.description": "Incident investigator for Kubernetes",
		"org.opencontainers.image.source":      "https://github.com/sleuth-sre/sleuth",
		"org.opencontainers.image.version":     opts.Version,
	}
	if opts.Revision != "" {
		labels["org.opencontainers.image.revision"] = opts.Revision
	}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, uid),
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: dataDir,
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"SSL_CERT_FILE=" + caPath,
			"HOME=/home/" + user,
		},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels:       labels,
	}
	return mutate.ConfigFile(img, cf)
}

// entry is one file or directory of a layer.
type entry struct {
	name string
	mode int64
	uid  int
	data []byte
	dir  bool
}

func baseLayer(opts Options) (v1.Layer, error) {
	ca, err := os.ReadFile(opts.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w (on Debian: apt-get install ca-certificates)", err)
	}
	license, err := os.ReadFile(opts.CALicense)
	if err != nil {
		return nil, fmt.Errorf("CA bundle copyright: %w", err)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", user, uid, uid, user, user)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", user, uid)
	return layer(opts.Created, []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		// Go's resolver reads it for the order of /etc/hosts and DNS.
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(caPath, "/"), mode: 0o644, data: ca},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/share/", mode: 0o755, dir: true},
		{name: "usr/share/doc/", mode: 0o755, dir: true},
		{name: "usr/share/doc/ca-certificates/", mode: 0o755, dir: true},
		{name: "usr/share/doc/ca-certificates/copyright", mode: 0o644, data: license},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/" + user + "/", mode: 0o700, uid: uid, dir: true},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		// The store's directory; the chart mounts a volume over it.
		{name: strings.TrimPrefix(dataDir, "/") + "/", mode: 0o700, uid: uid, dir: true},
	})
}

func binaryLayer(binary string, created time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	return layer(created, []entry{
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(binaryPath, "/"), mode: 0o755, data: data},
	})
}

// layer builds a gzip-compressed OCI layer from entries, in their order.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.uid,
			ModTime: created,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if e.uid == uid {
			h.Uname, h.Gname = user, user
		} else {
			h.Uname, h.Gname = "root", "root"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
