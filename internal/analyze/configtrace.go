package analyze

import (
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// envVar is one environment variable of a container and where its value
// comes from.
type envVar struct {
	Name string
	// Value is the value when known (literal, or read from a ConfigMap).
	Value string
	Known bool
	// Kind is "" for a literal in the pod spec, else "ConfigMap" or
	// "Secret"; Source and Key name the object and its key.
	Kind, Source, Key string
	// File marks a ConfigMap key mounted as a file: Name is its path.
	File bool
}

// where renders the variable's origin for a report.
func (v envVar) where() string {
	switch {
	case v.File:
		return "key " + v.Key + " of " + v.Kind + " " + v.Source
	}
	switch v.Kind {
	case "":
		return "set in the pod spec"
	default:
		return "from key " + v.Key + " of " + v.Kind + " " + v.Source
	}
}

// containerEnv lists a container's environment with the origin of each
// variable. ConfigMap values come from the ConfigMaps collected; Secret
// values are never read.
func containerEnv(ev *Evidence, p *corev1.Pod, c *corev1.Container) []envVar {
	cms := map[string]*corev1.ConfigMap{}
	for i := range ev.ConfigMaps {
		if ev.ConfigMaps[i].Namespace == p.Namespace || ev.ConfigMaps[i].Namespace == "" {
			cms[ev.ConfigMaps[i].Name] = &ev.ConfigMaps[i]
		}
	}
	var out []envVar
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := cms[from.ConfigMapRef.Name]
			if cm == nil {
				continue
			}
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				out = append(out, envVar{Name: from.Prefix + k, Value: cm.Data[k], Known: true, Kind: "ConfigMap", Source: cm.Name, Key: k})
			}
		}
	}
	for _, e := range c.Env {
		v := envVar{Name: e.Name, Value: e.Value, Known: e.ValueFrom == nil}
		if f := e.ValueFrom; f != nil {
			switch {
			case f.ConfigMapKeyRef != nil:
				v.Kind, v.Source, v.Key = "ConfigMap", f.ConfigMapKeyRef.Name, f.ConfigMapKeyRef.Key
				if cm := cms[v.Source]; cm != nil {
					v.Value, v.Known = cm.Data[v.Key]
				}
			case f.SecretKeyRef != nil:
				v.Kind, v.Source, v.Key = "Secret", f.SecretKeyRef.Name, f.SecretKeyRef.Key
			default:
				continue // field and resource references are not configuration
			}
		}
		out = append(out, v)
	}
	return append(out, configFiles(p, c, cms)...)
}

// configFiles lists the files a container reads from ConfigMap volumes,
// by path: an application that rejects its config file names the path.
func configFiles(p *corev1.Pod, c *corev1.Container, cms map[string]*corev1.ConfigMap) []envVar {
	var out []envVar
	for _, m := range c.VolumeMounts {
		for _, v := range p.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil || cms[v.ConfigMap.Name] == nil {
				continue
			}
			cm := cms[v.ConfigMap.Name]
			paths := map[string]string{} // key -> path inside the volume
			for k := range cm.Data {
				paths[k] = k
			}
			if len(v.ConfigMap.Items) > 0 {
				paths = map[string]string{}
				for _, it := range v.ConfigMap.Items {
					paths[it.Key] = it.Path
				}
			}
			for k, rel := range paths {
				path := strings.TrimSuffix(m.MountPath, "/") + "/" + rel
				if m.SubPath != "" {
					if m.SubPath != rel {
						continue
					}
					path = m.MountPath
				}
				out = append(out, envVar{Name: path, Kind: "ConfigMap", Source: cm.Name, Key: k, File: true})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var (
	// configComplaint marks a log line where an application rejects its
	// configuration.
	configComplaint = regexp.MustCompile(`(?i)(invalid|pars(e|ing)|unmarshal|decod|missing|required|unknown|unrecogni[sz]ed|unsupported|not (a )?valid|must be|expected|malformed|cannot convert|bad value|illegal|out of range|not set|is empty|not found|no such|config)`)
	// connectivity marks a line about reaching a peer: a value in it (a
	// host, a port) is where the client went, not necessarily what is
	// wrong; the dependency analyzers judge those.
	connectivity = regexp.MustCompile(`(?i)(connection refused|connection reset|timed out|deadline exceeded|no route to host|unreachable|broken pipe|\bEOF\b|i/o timeout|dial tcp|tls handshake)`)
	identRe      = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_-]*`)
)

// genericValues are values too common to point at one variable.
var genericValues = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"info": true, "debug": true, "warn": true, "warning": true, "error": true, "json": true, "text": true, "none": true, "null": true}

func normalizeIdent(s string) string {
	return strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(s))
}

// envBlame is an environment variable a log line points at.
type envBlame struct {
	Var  envVar
	Line string
	// Strength: 3 the line names the variable and quotes its value, 2 it
	// names it, 1 it quotes a distinctive value of it.
	Strength int
}

// blameConfig finds the environment variable a container's error lines
// reject: the line names it (as is, or as the application's field name:
// RefreshInterval for REFRESH_INTERVAL) and/or quotes its value. It
// returns the strongest match; a weak one (value only) only when a single
// variable matches.
func blameConfig(env []envVar, lines []string) (envBlame, bool) {
	var best envBlame
	weak := map[string]envBlame{}
	for _, line := range lines {
		if !configComplaint.MatchString(line) || connectivity.MatchString(line) {
			continue
		}
		idents := map[string]bool{}
		for _, id := range identRe.FindAllString(line, -1) {
			if compound(id) {
				idents[normalizeIdent(id)] = true
			}
		}
		for _, v := range env {
			var named, valued bool
			if v.File {
				// The full path names the file; its base name alone
				// ("config.yaml: line 3") only weakly.
				named = strings.Contains(line, v.Name)
				base := v.Name[strings.LastIndex(v.Name, "/")+1:]
				valued = !named && strings.Contains(base, ".") && len(base) >= 6 && containsWord(line, base)
			} else {
				named = len(v.Name) >= 4 && (containsWord(line, v.Name) || (len(normalizeIdent(v.Name)) >= 6 && idents[normalizeIdent(v.Name)]))
				valued = v.Known && quotesValue(line, v.Value, named)
			}
			s := 0
			switch {
			case named && valued:
				s = 3
			case named:
				s = 2
			case valued:
				s = 1
			}
			if s > best.Strength {
				best = envBlame{Var: v, Line: line, Strength: s}
			}
			if s == 1 {
				weak[v.Name] = envBlame{Var: v, Line: line, Strength: s}
			}
		}
	}
	if best.Strength >= 2 || (best.Strength == 1 && len(weak) == 1) {
		return best, true
	}
	return envBlame{}, false
}

// compound reports whether an identRe joins words (refresh_interval,
// refresh-interval, RefreshInterval): only those are matched to a
// variable's name in another spelling, a plain word is too common.
func compound(id string) bool {
	if strings.ContainsAny(id, "_-") {
		return true
	}
	for i := 1; i < len(id); i++ {
		if id[i] >= 'A' && id[i] <= 'Z' && id[i-1] >= 'a' && id[i-1] <= 'z' {
			return true
		}
	}
	return false
}

// containsWord reports whether s contains w not inside a longer
// identRe.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !isIdentByte(s[j-1])
		after := j+len(w) == len(s) || !isIdentByte(s[j+len(w)])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// quotesValue reports whether the line quotes the value: in quotes, after
// "=" or ": ", or, for a distinctive value (long, not a common word), as a
// word anywhere. Short values count only quoted and next to the name.
func quotesValue(line, value string, named bool) bool {
	value = strings.TrimSpace(value)
	if value == "" || genericValues[strings.ToLower(value)] || strings.ContainsAny(value, "\n") {
		return false
	}
	for _, q := range []string{`"` + value + `"`, `\"` + value + `\"`, `'` + value + `'`, "`" + value + "`", "=" + value, ": " + value} {
		if strings.Contains(line, q) && (named || len(value) >= 6) {
			return true
		}
	}
	return len(value) >= 8 && containsWord(line, value)
}
