// Package custom provides HolmesGPT's custom toolsets: YAML files whose
// tools run a shell command or script with the model's arguments. The
// format is HolmesGPT's (a toolsets: map; tools with command or script,
// parameters as a map, {{ param }} placeholders, ${ENV} expansion,
// prerequisites of kind command, env and static), read strictly: an
// unknown key is an error naming its file and line. Unlike HolmesGPT, every
// run has a timeout, an output cap and a memory limit (package bounded),
// and a parameter value can never change the command's structure (see
// template.go). A toolset whose prerequisites fail is disabled with the
// reason, which /readyz and the model's prompt show.
package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"mvdan.cc/sh/v3/syntax"

	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/bounded"
)

// Options configure loading and running.
type Options struct {
	// Limits bound every run of a tool or prerequisite command.
	Limits bounded.Limits
	// Environ is the environment commands see and ${ENV} reads (default
	// os.Environ).
	Environ func() []string
	// Shell runs commands and scripts (default bash, else sh, from PATH).
	Shell string
}

func (o Options) withDefaults() Options {
	if o.Environ == nil {
		o.Environ = os.Environ
	}
	if o.Shell == "" {
		o.Shell = "bash"
		if _, err := exec.LookPath("bash"); err != nil {
			o.Shell = "sh"
		}
	}
	return o
}

// lang is the shell language the parser checks commands against.
func (o Options) lang() syntax.LangVariant {
	if filepath.Base(o.Shell) == "bash" {
		return syntax.LangBash
	}
	return syntax.LangPOSIX
}

// Error is a problem in a toolset file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Toolset is a loaded custom toolset, not yet checked.
type Toolset struct {
	Name        string
	Description string
	// Instructions are HolmesGPT's llm_instructions, for the prompt.
	Instructions string
	File         string
	Line         int
	// disabled is set by enabled: false.
	disabled bool
	prereqs  []prereq
	Tools    []*Tool
	opt      Options
}

type prereq struct {
	line     int
	command  *template
	expected string
	env      []string
	static   *bool
	reason   string
}

// Load reads custom toolsets from files and directories (every *.yaml and
// *.yml in a directory, in name order). Every problem is returned, joined;
// the toolsets of files without problems are returned too.
func Load(paths []string, opt Options) ([]*Toolset, error) {
	opt = opt.withDefaults()
	var files []string
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("custom toolsets: %w", err))
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("custom toolsets: %w", err))
			continue
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	var out []*Toolset
	seen := map[string]string{} // tool name -> where
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("custom toolsets: %w", err))
			continue
		}
		sets, err := Parse(f, data, opt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ts := range sets {
			dup := false
			for _, t := range ts.Tools {
				where := fmt.Sprintf("%s:%d", ts.File, t.line)
				if prev, ok := seen[t.name]; ok {
					errs = append(errs, &Error{File: ts.File, Line: t.line, Msg: fmt.Sprintf("tool %q is already defined at %s", t.name, prev)})
					dup = true
				}
				seen[t.name] = where
			}
			if !dup {
				out = append(out, ts)
			}
		}
	}
	return out, errors.Join(errs...)
}

// The YAML schema. Keys HolmesGPT has that change nothing here (icons,
// docs links, tags, transformers that summarise with the LLM) are accepted
// and ignored; keys whose meaning sleuth does not implement are refused by
// unsupportedKeys rather than silently dropped.
type fileSpec struct {
	Toolsets yaml.Node `yaml:"toolsets"`
}

type toolsetSpec struct {
	Enabled                  *bool        `yaml:"enabled"`
	Description              string       `yaml:"description"`
	DocsURL                  string       `yaml:"docs_url"`
	IconURL                  string       `yaml:"icon_url"`
	InstallationInstructions string       `yaml:"installation_instructions"`
	LLMInstructions          string       `yaml:"llm_instructions"`
	Tags                     []string     `yaml:"tags"`
	Config                   any          `yaml:"config"`
	IsDefault                bool         `yaml:"is_default"`
	Experimental             bool         `yaml:"experimental"`
	Transformers             any          `yaml:"transformers"`
	Prerequisites            []prereqSpec `yaml:"prerequisites"`
	Tools                    []toolSpec   `yaml:"tools"`
}

type prereqSpec struct {
	Command        string   `yaml:"command"`
	ExpectedOutput string   `yaml:"expected_output"`
	Env            []string `yaml:"env"`
	Enabled        *bool    `yaml:"enabled"`
	DisabledReason string   `yaml:"disabled_reason"`
}

type toolSpec struct {
	Name            string                `yaml:"name"`
	Description     string                `yaml:"description"`
	Command         string                `yaml:"command"`
	Script          string                `yaml:"script"`
	Parameters      map[string]*paramSpec `yaml:"parameters"`
	UserDescription string                `yaml:"user_description"`
	IconURL         string                `yaml:"icon_url"`
	Transformers    any                   `yaml:"transformers"`
}

type paramSpec struct {
	Description          string   `yaml:"description"`
	Type                 any      `yaml:"type"`
	Required             *bool    `yaml:"required"`
	Enum                 []string `yaml:"enum"`
	Items                any      `yaml:"items"`
	Properties           any      `yaml:"properties"`
	AdditionalProperties any      `yaml:"additional_properties"`
}

// unsupportedKeys are HolmesGPT keys that would change what runs or who
// may run it; ignoring them would run tools their author meant to gate.
var unsupportedKeys = map[string]string{
	"restricted_tools":        "runbook-restricted tools are not supported; leave the tool out instead",
	"approval_required_tools": "tool approval is not supported; leave the tool out instead",
	"restricted":              "runbook-restricted tools are not supported; leave the tool out instead",
	"mcp_servers":             "MCP servers are not supported",
}

var (
	paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	plainWordRE = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)
)

// toolNameRE is what OpenAI-compatible servers accept as a function name.
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Parse reads one toolset file.
func Parse(file string, data []byte, opt Options) ([]*Toolset, error) {
	opt = opt.withDefaults()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	doc := root.Content[0]
	if err := checkKeys(file, doc, reflect.TypeFor[fileSpec](), ""); err != nil {
		return nil, err
	}
	var fs fileSpec
	if err := doc.Decode(&fs); err != nil {
		return nil, &Error{File: file, Line: doc.Line, Msg: yamlMessage(err)}
	}
	if fs.Toolsets.Kind == 0 {
		return nil, &Error{File: file, Line: doc.Line, Msg: "no toolsets: key"}
	}
	if fs.Toolsets.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: fs.Toolsets.Line, Msg: "toolsets must be a map of toolset name to toolset"}
	}
	isSet := func(name string) bool {
		_, ok := lookupEnv(opt.Environ(), name)
		return ok
	}
	var out []*Toolset
	var errs []error
	for i := 0; i+1 < len(fs.Toolsets.Content); i += 2 {
		k, v := fs.Toolsets.Content[i], fs.Toolsets.Content[i+1]
		prefix := "toolsets." + k.Value + "."
		if err := checkKeys(file, v, reflect.TypeFor[toolsetSpec](), prefix); err != nil {
			errs = append(errs, err)
			continue
		}
		var spec toolsetSpec
		if err := v.Decode(&spec); err != nil {
			errs = append(errs, &Error{File: file, Line: v.Line, Msg: prefix[:len(prefix)-1] + ": " + yamlMessage(err)})
			continue
		}
		ts, err := build(file, k, v, spec, opt, isSet)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ts)
	}
	return out, errors.Join(errs...)
}

func build(file string, k, v *yaml.Node, spec toolsetSpec, opt Options, isSet func(string) bool) (*Toolset, error) {
	ts := &Toolset{
		Name: k.Value, Description: spec.Description, Instructions: spec.LLMInstructions,
		File: file, Line: k.Line, opt: opt,
		disabled: spec.Enabled != nil && !*spec.Enabled,
	}
	bad := func(line int, format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf("toolset %q: ", ts.Name) + fmt.Sprintf(format, args...)}
	}
	prereqNodes := childSeq(v, "prerequisites")
	for i, p := range spec.Prerequisites {
		line := k.Line
		if i < len(prereqNodes) {
			line = prereqNodes[i].Line
		}
		pr := prereq{line: line, expected: p.ExpectedOutput, env: p.Env, static: p.Enabled, reason: p.DisabledReason}
		kinds := 0
		for _, set := range []bool{p.Command != "", len(p.Env) > 0, p.Enabled != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			return nil, bad(line, "a prerequisite has exactly one of command, env, or enabled (with disabled_reason)")
		}
		if p.Command != "" {
			t, err := compile(p.Command, opt.lang(), isSet)
			if err != nil {
				return nil, bad(line, "prerequisite command: %v", err)
			}
			if len(t.params) > 0 {
				return nil, bad(line, "prerequisite command: {{ placeholders }} have no value here")
			}
			pr.command = t
		}
		ts.prereqs = append(ts.prereqs, pr)
	}
	toolNodes := childSeq(v, "tools")
	if len(spec.Tools) == 0 {
		return nil, bad(k.Line, "no tools")
	}
	for i, s := range spec.Tools {
		line := toolNodes[i].Line
		t, err := buildTool(s, opt, isSet)
		if err != nil {
			return nil, bad(line, "tool %q: %v", s.Name, err)
		}
		t.line, t.toolset = line, ts.Name
		ts.Tools = append(ts.Tools, t)
	}
	return ts, nil
}

func buildTool(s toolSpec, opt Options, isSet func(string) bool) (*Tool, error) {
	if !toolNameRE.MatchString(s.Name) {
		return nil, fmt.Errorf("name must be 1-64 letters, digits, _ or -")
	}
	if s.Description == "" {
		return nil, fmt.Errorf("description is required")
	}
	if (s.Command == "") == (s.Script == "") {
		return nil, fmt.Errorf("exactly one of command and script is required")
	}
	t := &Tool{name: s.Name, description: s.Description, opt: opt, params: map[string]param{}}
	src := s.Command
	if s.Script != "" {
		src = s.Script
		if interp, ok := strings.CutPrefix(strings.SplitN(s.Script, "\n", 2)[0], "#!"); ok && !shellInterpreter(interp) {
			if placeholderRE.MatchString(s.Script) {
				return nil, fmt.Errorf("script runs %q, not a shell: {{ placeholders }} are only for shell; read the values from the environment variables %sNAME", strings.TrimSpace(interp), ParamEnvPrefix)
			}
			t.foreign = true
		}
	}
	if t.foreign {
		t.tmpl = &template{source: src, shell: src}
	} else {
		tm, err := compile(src, opt.lang(), isSet)
		if err != nil {
			return nil, err
		}
		t.tmpl = tm
	}
	if s.UserDescription != "" {
		if rest := placeholderRE.ReplaceAllString(s.UserDescription, ""); strings.Contains(rest, "{{") {
			return nil, fmt.Errorf("user_description: only {{ name }} placeholders are supported")
		}
		t.userDesc = s.UserDescription
	}
	for name, p := range s.Parameters {
		if p == nil {
			p = &paramSpec{}
		}
		if !paramNameRE.MatchString(name) {
			return nil, fmt.Errorf("parameter %q: name must be letters, digits and _ (it becomes an environment variable)", name)
		}
		typ, err := paramType(p.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %v", name, err)
		}
		t.params[name] = param{
			Description: p.Description, Type: typ, Required: p.Required == nil || *p.Required,
			Enum: p.Enum, Items: p.Items, Properties: p.Properties,
		}
	}
	// Undeclared placeholders are required strings, as in HolmesGPT.
	for _, name := range t.tmpl.params {
		if _, ok := t.params[name]; !ok {
			t.params[name] = param{Type: "string", Required: true}
		}
	}
	for _, name := range placeholderRE.FindAllStringSubmatch(s.UserDescription, -1) {
		if _, ok := t.params[name[1]]; !ok {
			return nil, fmt.Errorf("user_description uses {{ %s }}, which is not a parameter", name[1])
		}
	}
	schema, err := t.schema()
	if err != nil {
		return nil, err
	}
	t.schemaJSON = schema
	return t, nil
}

func shellInterpreter(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return true
	}
	prog := filepath.Base(f[0])
	if prog == "env" && len(f) > 1 {
		prog = filepath.Base(f[1])
	}
	switch prog {
	case "sh", "bash", "dash", "ash":
		return true
	}
	return false
}

func paramType(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "string", nil
	case string:
		switch v {
		case "string", "integer", "number", "boolean", "array", "object":
			return v, nil
		}
	case []any:
		// ["string", "null"]: nullable; the value is optional anyway.
		for _, t := range v {
			if s, ok := t.(string); ok && s != "null" {
				return paramType(s)
			}
		}
	}
	return "", fmt.Errorf("type %v: want string, integer, number, boolean, array or object", v)
}

// childSeq returns the items of the sequence under key in a mapping node.
func childSeq(m *yaml.Node, key string) []*yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1].Content
		}
	}
	return nil
}

func lookupEnv(environ []string, name string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Check returns the toolset in the registry's form after checking its
// prerequisites: enabled, or disabled with the reason.
func (ts *Toolset) Check(ctx context.Context) tools.Toolset {
	out := tools.Toolset{Name: ts.Name, Description: ts.Description, Instructions: ts.Instructions, Enabled: true}
	for _, t := range ts.Tools {
		out.Tools = append(out.Tools, t)
	}
	if ts.disabled {
		out.Enabled, out.Reason = false, fmt.Sprintf("enabled: false in %s:%d", ts.File, ts.Line)
		return out
	}
	if reason := ts.checkPrereqs(ctx); reason != "" {
		out.Enabled, out.Reason = false, reason
	}
	return out
}

// checkPrereqs returns why the toolset cannot run, or "". Cheap checks go
// first, as in HolmesGPT: static, then environment, then commands.
func (ts *Toolset) checkPrereqs(ctx context.Context) string {
	ps := slices.Clone(ts.prereqs)
	rank := func(p prereq) int {
		switch {
		case p.static != nil:
			return 0
		case len(p.env) > 0:
			return 1
		}
		return 2
	}
	sort.SliceStable(ps, func(i, j int) bool { return rank(ps[i]) < rank(ps[j]) })
	env := ts.opt.Environ()
	if _, err := exec.LookPath(ts.opt.Shell); err != nil {
		return fmt.Sprintf("no shell to run commands: %s is not in PATH", ts.opt.Shell)
	}
	for _, p := range ps {
		where := fmt.Sprintf("%s:%d", ts.File, p.line)
		switch {
		case p.static != nil:
			if !*p.static {
				reason := p.reason
				if reason == "" {
					reason = "disabled"
				}
				return fmt.Sprintf("%s (%s)", reason, where)
			}
		case len(p.env) > 0:
			var missing []string
			for _, name := range p.env {
				if v, ok := lookupEnv(env, name); !ok || v == "" {
					missing = append(missing, name)
				}
			}
			if len(missing) > 0 {
				return fmt.Sprintf("environment variable %s not set (%s)", strings.Join(missing, ", "), where)
			}
		case p.command != nil:
			res, err := bounded.Run(ctx, ts.opt.Limits, bounded.Options{MergeStderr: true}, bounded.Proc{
				Path: ts.opt.Shell, Args: []string{ts.opt.Shell, "-c", p.command.shell}, Env: env,
			})
			out := redact(strings.TrimSpace(res.Output), p.command.envRefs, env)
			switch {
			case err != nil:
				return fmt.Sprintf("prerequisite `%s` (%s) could not run: %v", p.command.source, where, err)
			case res.TimedOut:
				return fmt.Sprintf("prerequisite `%s` (%s) timed out", p.command.source, where)
			case res.ExitCode != 0:
				return fmt.Sprintf("prerequisite `%s` (%s) failed with exit code %d: %s", p.command.source, where, res.ExitCode, clip(out, 300))
			case p.expected != "" && !strings.Contains(res.Output, p.expected):
				return fmt.Sprintf("prerequisite `%s` (%s) did not print %q", p.command.source, where, p.expected)
			}
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// redact replaces the values of the environment variables a command refers
// to with their ${NAME}, so that an error message or an output echoing a
// token or URL does not show it to the model.
func redact(s string, names []string, env []string) string {
	for _, n := range names {
		// Short values would replace ordinary words.
		if v, ok := lookupEnv(env, n); ok && len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "${"+n+"}")
		}
	}
	return s
}

// param is a tool parameter, as its JSON schema says.
type param struct {
	Description string
	Type        string
	Required    bool
	Enum        []string
	Items       any
	Properties  any
}

// Tool is one custom tool.
type Tool struct {
	name, description string
	toolset           string
	line              int
	tmpl              *template
	// foreign scripts run their own interpreter; parameters reach them
	// only as environment variables.
	foreign    bool
	userDesc   string
	params     map[string]param
	schemaJSON json.RawMessage
	opt        Options
}

// Name implements tools.Tool.
func (t *Tool) Name() string { return t.name }

// Description implements tools.Tool.
func (t *Tool) Description() string { return t.description }

// Parameters implements tools.Tool.
func (t *Tool) Parameters() json.RawMessage { return t.schemaJSON }

func (t *Tool) schema() (json.RawMessage, error) {
	props := map[string]any{}
	required := []string{}
	for name, p := range t.params {
		s := map[string]any{"type": p.Type}
		if p.Description != "" {
			s["description"] = p.Description
		}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		if p.Items != nil {
			s["items"] = p.Items
		}
		if p.Properties != nil {
			s["properties"] = p.Properties
		}
		props[name] = s
		if p.Required {
			required = append(required, name)
		}
	}
	sort.Strings(required)
	b, err := json.Marshal(map[string]any{"type": "object", "properties": props, "required": required})
	if err != nil {
		return nil, fmt.Errorf("parameters: %v", err)
	}
	return b, nil
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Code   int
	Signal string
	Output string
	// MemoryLimit is the limit in force, for the hint.
	MemoryLimit int64
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exit code %d", e.Code)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	msg := "command failed with " + how
	if e.Signal != "" || strings.Contains(e.Output, "memory") {
		msg += fmt.Sprintf(" (runs are limited to %d MiB of memory)", e.MemoryLimit>>20)
	}
	if e.Output != "" {
		msg += ": " + clip(e.Output, 2000)
	}
	return msg
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, args map[string]any) (tools.Result, error) {
	vals, err := t.values(args)
	if err != nil {
		return tools.Result{}, err
	}
	res := tools.Result{Description: t.describe(vals)}
	env := t.opt.Environ()
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		env = append(env, ParamEnvPrefix+n+"="+vals[n])
	}
	proc := bounded.Proc{Path: t.opt.Shell, Args: []string{t.opt.Shell, "-c", t.tmpl.shell, t.name}, Env: env}
	if t.foreign {
		f, err := os.CreateTemp("", "sleuth-tool-*")
		if err != nil {
			return res, fmt.Errorf("write the script: %w", err)
		}
		defer os.Remove(f.Name())
		_, werr := f.WriteString(t.tmpl.shell)
		if cerr := f.Close(); werr != nil || cerr != nil {
			return res, fmt.Errorf("write the script: %w", errors.Join(werr, cerr))
		}
		if err := os.Chmod(f.Name(), 0o700); err != nil {
			return res, err
		}
		proc = bounded.Proc{Path: f.Name(), Args: []string{f.Name()}, Env: env}
	}
	lim := t.opt.Limits
	out, err := bounded.Run(ctx, lim, bounded.Options{MergeStderr: true}, proc)
	if err != nil {
		return res, err
	}
	// HolmesGPT strips the output, and an empty one is no data.
	text := redact(strings.TrimSpace(out.Output), t.tmpl.envRefs, env)
	if out.Truncated {
		text += fmt.Sprintf("\n[output cut at %d bytes]", len(out.Output))
		res.Truncated = true
	}
	res.Text = text
	switch {
	case out.TimedOut:
		return res, fmt.Errorf("timed out: %s", clip(text, 2000))
	case out.ExitCode != 0 && !out.Truncated:
		mem := lim.MaxMemory
		if mem == 0 {
			mem = bounded.DefaultMaxMemory
		}
		return res, &ExitError{Code: out.ExitCode, Signal: out.Signal, Output: text, MemoryLimit: mem}
	}
	res.NoData = text == ""
	return res, nil
}

// values checks the arguments against the parameters and renders each as
// the string the command receives.
func (t *Tool) values(args map[string]any) (map[string]string, error) {
	vals := map[string]string{}
	for name, p := range t.params {
		v, ok := args[name]
		if !ok || v == nil {
			if p.Required {
				return nil, fmt.Errorf("missing required parameter %q", name)
			}
			vals[name] = ""
			continue
		}
		s, err := render(v, p.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
		if strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("parameter %q: a NUL byte cannot be passed", name)
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
			return nil, fmt.Errorf("parameter %q: %q is not one of %s", name, s, strings.Join(p.Enum, ", "))
		}
		vals[name] = s
	}
	return vals, nil
}

func render(v any, typ string) (string, error) {
	switch typ {
	case "integer", "number":
		var s string
		switch v := v.(type) {
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case json.Number:
			s = v.String()
		case int:
			s = strconv.Itoa(v)
		case string:
			s = strings.TrimSpace(v) // models quote numbers
		default:
			return "", fmt.Errorf("want a %s, got %T", typ, v)
		}
		if typ == "integer" {
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				return "", fmt.Errorf("want an integer, got %q", s)
			}
		} else if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "", fmt.Errorf("want a number, got %q", s)
		}
		return s, nil
	case "boolean":
		switch v := v.(type) {
		case bool:
			return strconv.FormatBool(v), nil
		case string:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", fmt.Errorf("want true or false, got %q", v)
			}
			return strconv.FormatBool(b), nil
		}
		return "", fmt.Errorf("want a boolean, got %T", v)
	case "array", "object":
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// describe renders the call as a person would rerun it: the command with
// each value shell-quoted, ${ENV} left as written.
func (t *Tool) describe(vals map[string]string) string {
	src, quote := t.tmpl.source, true
	if t.userDesc != "" {
		src, quote = t.userDesc, false
	}
	return placeholderRE.ReplaceAllStringFunc(src, func(m string) string {
		v := vals[placeholderRE.FindStringSubmatch(m)[1]]
		if quote {
			return shellQuote(v)
		}
		return v
	})
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s == "" {
		return ""
	}
	if plainWordRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

var _ tools.Tool = (*Tool)(nil)

func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	return strings.Join(te.Errors, "; ")
}
