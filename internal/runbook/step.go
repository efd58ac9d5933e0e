package runbook

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/VictoriaMetrics/metricsql"
)

// Tool names a step may call. The investigation engine implements them.
const (
	ToolMetricsQuery      = "metrics.query"
	ToolMetricsQueryRange = "metrics.query_range"
	ToolLogsQuery         = "logs.query"
	ToolLogsPod           = "logs.pod"
	ToolKubernetesGet     = "kubernetes.get"
	ToolKubernetesEvents  = "kubernetes.events"
	ToolKubernetesLogs    = "kubernetes.logs"
)

// Bounds on what a runbook may ask for.
const (
	// MaxSteps bounds the steps of one runbook: each is a backend query
	// on the investigation's clock.
	MaxSteps = 20
	// maxTemplateBytes bounds an argument as written.
	maxTemplateBytes = 4 << 10
	// maxRenderedBytes bounds an argument once rendered; a query longer
	// than this is a template gone wrong, not an investigation.
	maxRenderedBytes = 16 << 10
	// maxRange is the furthest back a step may look: a week covers "since
	// the last deploy" and stays well inside the seed's 15-day retention.
	maxRange = 7 * 24 * time.Hour
	// maxPoints is Prometheus' limit on the points of one range query,
	// which VictoriaMetrics also applies by default.
	maxPoints = 11000
	// maxLines bounds log lines (limit, tail): the model's context is the
	// scarce resource, and templates of 1000 lines say what 100k would.
	maxLines = 1000
)

// argType is what an argument holds and, for strings, the language the
// rendered value lands in, which decides how substituted values are escaped.
type argType int

const (
	argPromQL   argType = iota // a MetricsQL query: values escaped for "..."
	argLogsQL                  // a LogsQL query: values escaped for "..."
	argName                    // a Kubernetes name: validated, not escaped
	argKind                    // a Kubernetes kind
	argDuration                // a literal duration
	argInt                     // a literal integer
	argBool                    // a literal boolean
)

func (t argType) String() string {
	return [...]string{"MetricsQL query", "LogsQL query", "Kubernetes name", "Kubernetes kind", "duration", "integer", "boolean"}[t]
}

func (t argType) templated() bool { return t <= argKind }

type argSpec struct {
	name     string
	typ      argType
	required bool
	def      string // default value, "" for none
}

// tools lists each tool's arguments. The defaults make a rendered step
// complete, so that the record of a call shows everything it used.
var tools = map[string][]argSpec{
	ToolMetricsQuery: {
		{name: "query", typ: argPromQL, required: true},
	},
	ToolMetricsQueryRange: {
		{name: "query", typ: argPromQL, required: true},
		{name: "range", typ: argDuration, def: "1h"},
		{name: "step", typ: argDuration},
	},
	ToolLogsQuery: {
		{name: "query", typ: argLogsQL, required: true},
		{name: "range", typ: argDuration, def: "1h"},
		{name: "limit", typ: argInt, def: "100"},
	},
	ToolLogsPod: {
		{name: "namespace", typ: argName, required: true},
		{name: "pod", typ: argName, required: true},
		{name: "container", typ: argName},
		{name: "range", typ: argDuration, def: "1h"},
		{name: "limit", typ: argInt, def: "100"},
	},
	ToolKubernetesGet: {
		{name: "kind", typ: argKind, required: true},
		{name: "namespace", typ: argName}, // cluster-scoped kinds (Node) have none
		{name: "name", typ: argName, required: true},
	},
	ToolKubernetesEvents: {
		{name: "kind", typ: argKind, required: true},
		{name: "namespace", typ: argName},
		{name: "name", typ: argName, required: true},
	},
	ToolKubernetesLogs: {
		{name: "namespace", typ: argName, required: true},
		{name: "pod", typ: argName, required: true},
		{name: "container", typ: argName},
		{name: "previous", typ: argBool, def: "false"},
		{name: "tail", typ: argInt, def: "100"},
	},
}

// ToolNames returns the tools a step may call, sorted.
func ToolNames() []string {
	return slices.Sorted(maps.Keys(tools))
}

// Object identifies a Kubernetes object.
type Object struct {
	Kind, Namespace, Name string
}

// TemplateData is what a step's arguments are rendered from: raw values,
// as the alert and the engine have them. Escaping is Render's job.
type TemplateData struct {
	Labels      map[string]string
	Annotations map[string]string
	// Target is the object the engine resolved the alert to: for a pod
	// owned by a Deployment, the Deployment.
	Target Object
	// Pod, Container and Node are the alert's pod, container and node,
	// as far as they are known; empty otherwise.
	Pod, Container, Node string
	Alert                Alert
}

// NewTemplateData returns the data for an alert and its resolved target,
// with Pod, Container and Node taken from the labels of those names. The
// engine overrides them where it knows better (a node from an instance).
func NewTemplateData(a Alert, target Object) TemplateData {
	d := TemplateData{
		Labels:      a.Labels,
		Annotations: a.Annotations,
		Target:      target,
		Pod:         a.Labels["pod"],
		Container:   a.Labels["container"],
		Node:        a.Labels["node"],
		Alert:       a,
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	return d
}

// Step is one deterministic tool call of a native runbook.
type Step struct {
	Tool string
	// Description says what the step looks for, for the report.
	Description string
	// Runbook and Index locate the step: the runbook's name, its position.
	Runbook string
	Index   int
	Line    int
	args    []stepArg // sorted by name
}

type stepArg struct {
	spec argSpec
	raw  string             // as written, or the default
	tmpl *template.Template // for templated types
}

// Args returns the step's arguments as written, defaults filled in.
func (s *Step) Args() map[string]string {
	out := make(map[string]string, len(s.args))
	for _, a := range s.args {
		if a.raw != "" {
			out[a.spec.name] = a.raw
		}
	}
	return out
}

// RenderedStep is a step ready to run: every argument rendered and escaped,
// defaults filled in, optional arguments that rendered empty left out.
type RenderedStep struct {
	Tool        string
	Description string
	Args        map[string]string
}

// String renders the call on one line: tool name=value ..., sorted.
func (r RenderedStep) String() string {
	var b strings.Builder
	b.WriteString(r.Tool)
	for _, k := range slices.Sorted(maps.Keys(r.Args)) {
		fmt.Fprintf(&b, " %s=%s", k, strconv.Quote(r.Args[k]))
	}
	return b.String()
}

// Key identifies the call, so that the engine can run once a step several
// matching runbooks share.
func (r RenderedStep) Key() string { return r.String() }

// Duration returns a duration argument (range, step), 0 when absent.
// Values were validated when the runbook loaded.
func (r RenderedStep) Duration(name string) time.Duration {
	d, _ := parseDuration(r.Args[name])
	return d
}

// Int returns an integer argument (limit, tail), 0 when absent.
func (r RenderedStep) Int(name string) int {
	n, _ := strconv.Atoi(r.Args[name])
	return n
}

// Bool returns a boolean argument (previous).
func (r RenderedStep) Bool(name string) bool {
	b, _ := strconv.ParseBool(r.Args[name])
	return b
}

// RenderError is a step that cannot be rendered for an alert, typically
// because its template names a label the alert lacks.
type RenderError struct {
	Runbook string
	Step    int // 1-based
	Tool    string
	Arg     string
	Err     error
}

func (e *RenderError) Error() string {
	return fmt.Sprintf("runbook %s step %d (%s) arg %s: %v", e.Runbook, e.Step, e.Tool, e.Arg, e.Err)
}

func (e *RenderError) Unwrap() error { return e.Err }

// Render renders the step's arguments for data. Every value a template
// outputs is escaped for where it lands: inside a double-quoted MetricsQL
// or LogsQL string it is quoted so that it cannot end the string, whatever
// label or annotation it comes from; a Kubernetes name or kind must be a
// valid one. A template naming a label the alert lacks is an error
// (missingkey=error); {{ index .Labels "x" }} reads an optional one.
func (s *Step) Render(data TemplateData) (RenderedStep, error) {
	out := RenderedStep{Tool: s.Tool, Description: s.Description, Args: make(map[string]string, len(s.args))}
	for _, a := range s.args {
		v := a.raw
		if a.tmpl != nil {
			var err error
			if v, err = execute(a.tmpl, data); err != nil {
				return RenderedStep{}, s.renderError(a, err)
			}
		}
		if v == "" {
			if a.spec.required {
				return RenderedStep{}, s.renderError(a, errors.New("rendered empty"))
			}
			continue
		}
		if err := validateValue(a.spec.typ, v); err != nil {
			return RenderedStep{}, s.renderError(a, err)
		}
		out.Args[a.spec.name] = v
	}
	return out, nil
}

func (s *Step) renderError(a stepArg, err error) error {
	return &RenderError{Runbook: s.Runbook, Step: s.Index + 1, Tool: s.Tool, Arg: a.spec.name, Err: err}
}

func execute(t *template.Template, data TemplateData) (string, error) {
	w := &boundedWriter{max: maxRenderedBytes}
	if err := t.Execute(w, data); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

var errTooLong = fmt.Errorf("rendered value exceeds %d bytes", maxRenderedBytes)

// boundedWriter fails the template once the output passes max, which also
// stops a runaway template.
type boundedWriter struct {
	b   strings.Builder
	max int
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

var (
	// nameRE admits the names Kubernetes objects and containers have
	// (RBAC's "system:..." included) and nothing that could change a
	// request's path or selector: no slash, space, comma or "=".
	nameRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9._:]*[A-Za-z0-9])?$`)
	// kindRE admits Deployment, deployments, deployment.apps.
	kindRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[a-z0-9][-a-z0-9]*)*$`)
)

func validateValue(t argType, v string) error {
	switch t {
	case argName:
		if len(v) > 253 || !nameRE.MatchString(v) {
			return fmt.Errorf("%q is not a valid Kubernetes name", v)
		}
	case argKind:
		if len(v) > 253 || !kindRE.MatchString(v) {
			return fmt.Errorf("%q is not a valid Kubernetes kind", v)
		}
	}
	return nil
}

// Escaper function names. They are appended to every output action of a
// query template (as html/template does), so the escaping happens last,
// after any function the author applied, and covers every value whatever
// its source. Leading underscores keep them out of authors' way.
const (
	escPromQL = "_sleuth_promql_string"
	escLogsQL = "_sleuth_logsql_string"
)

// quoteContent returns s escaped for the inside of a double-quoted
// MetricsQL/PromQL or LogsQL string. Both unquote such strings with Go's
// rules (metricsql and VictoriaLogs call strconv.Unquote, Prometheus' lexer
// accepts the same escapes), so strconv.Quote's escaping of backslash,
// double quote, newline and every other control character is exact.
func quoteContent(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// escapeValue is the escaper templates call: it prints v as text/template
// would and escapes the result.
func escapeValue(v any) string { return quoteContent(fmt.Sprint(v)) }

// funcs are the functions templates may call besides text/template's own.
var funcs = template.FuncMap{
	// reQuote escapes regexp metacharacters, for a label value inside a
	// =~ matcher: pod=~"{{ reQuote .Target.Name }}-.*".
	"reQuote":    regexp.QuoteMeta,
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	escPromQL:    escapeValue,
	escLogsQL:    escapeValue,
}

// parseArg parses a templated argument and rewrites it for its type: query
// templates get the escaper appended to each output action, after a check
// that each such action sits inside a double-quoted string, where escaping
// makes the value inert. A value outside quotes would be query syntax that
// a label could rewrite.
func parseArg(name, src string, t argType) (*template.Template, error) {
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("template is %d bytes; the limit is %d", len(src), maxTemplateBytes)
	}
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template: %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	if n := len(tmpl.Templates()); n > 1 {
		return nil, errors.New("template: define and block are not allowed in a step")
	}
	w := &walker{typ: t, tree: tmpl.Tree}
	end, err := w.list(tmpl.Tree.Root, lexState{}, reflect.TypeFor[TemplateData]())
	if err != nil {
		return nil, err
	}
	if end != (lexState{}) {
		return nil, fmt.Errorf("template ends inside a %s", end)
	}
	return tmpl, nil
}

// lexState is where a query's lexer is after some text: inside a string
// (and after a backslash in it) or a # comment, or in plain syntax.
type lexState struct {
	quote   byte // '"', '\'', '`' or 0
	escape  bool
	comment bool
}

func (s lexState) String() string {
	switch {
	case s.comment:
		return "# comment"
	case s.quote == '"':
		return "double-quoted string"
	case s.quote == '\'':
		return "single-quoted string"
	case s.quote == '`':
		return "backquoted string"
	}
	return "query"
}

// feed advances the state over literal text, by the rules MetricsQL and
// LogsQL share: three string quotes, backslash escapes except in
// backquotes, # comments to the end of the line.
func (s lexState) feed(text string) lexState {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case s.comment:
			if c == '\n' {
				s.comment = false
			}
		case s.quote == 0:
			switch c {
			case '"', '\'', '`':
				s.quote = c
			case '#':
				s.comment = true
			}
		case s.escape:
			s.escape = false
		case c == '\\' && s.quote != '`':
			s.escape = true
		case c == s.quote:
			s.quote = 0
		}
	}
	return s
}

// walker checks a template's tree: the quoting context of each output
// action (query types only), the fields it reads, and constructs a step
// has no use for.
type walker struct {
	typ  argType
	tree *parse.Tree
}

func (w *walker) query() bool { return w.typ == argPromQL || w.typ == argLogsQL }

func (w *walker) errorf(n parse.Node, format string, args ...any) error {
	loc, _ := w.tree.ErrorContext(n)
	return fmt.Errorf("template %s: %s", loc, fmt.Sprintf(format, args...))
}

// list walks a list of nodes from state st with dot of type dot (nil when
// unknown, inside with) and returns the state after it.
func (w *walker) list(l *parse.ListNode, st lexState, dot reflect.Type) (lexState, error) {
	if l == nil {
		return st, nil
	}
	for _, n := range l.Nodes {
		var err error
		if st, err = w.node(n, st, dot); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (w *walker) node(n parse.Node, st lexState, dot reflect.Type) (lexState, error) {
	switch n := n.(type) {
	case *parse.TextNode:
		if w.query() {
			st = st.feed(string(n.Text))
		}
		return st, nil
	case *parse.CommentNode:
		return st, nil
	case *parse.ActionNode:
		if err := w.pipe(n.Pipe, dot); err != nil {
			return st, err
		}
		if len(n.Pipe.Decl) > 0 || !w.query() {
			return st, nil // an assignment outputs nothing
		}
		if st.quote != '"' || st.escape {
			return st, w.errorf(n, "%s is in a %s: a value substituted into a query must sit inside a double-quoted string, where it is escaped (label values are untrusted)", n, st)
		}
		esc := escPromQL
		if w.typ == argLogsQL {
			esc = escLogsQL
		}
		n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
			NodeType: parse.NodeCommand,
			Pos:      n.Pos,
			Args:     []parse.Node{parse.NewIdentifier(esc).SetTree(w.tree).SetPos(n.Pos)},
		})
		return st, nil
	case *parse.IfNode:
		return w.branch(&n.BranchNode, "if", st, dot, dot)
	case *parse.WithNode:
		// Inside with, dot is the pipeline's value; its type is unknown here.
		return w.branch(&n.BranchNode, "with", st, dot, nil)
	case *parse.RangeNode:
		return st, w.errorf(n, "range is not allowed in a step: a step's arguments are bounded")
	case *parse.TemplateNode:
		return st, w.errorf(n, "template is not allowed in a step")
	default:
		return st, w.errorf(n, "%s is not allowed in a step", n)
	}
}

// branch walks if/with: both arms start where the action is and must end
// in the same context, or the text after would be read in two ways.
func (w *walker) branch(b *parse.BranchNode, keyword string, st lexState, dot, inner reflect.Type) (lexState, error) {
	if err := w.pipe(b.Pipe, dot); err != nil {
		return st, err
	}
	a, err := w.list(b.List, st, inner)
	if err != nil {
		return st, err
	}
	e, err := w.list(b.ElseList, st, dot)
	if err != nil {
		return st, err
	}
	if a != e {
		return st, w.errorf(b, "the branches of %s end in different contexts (%s and %s)", keyword, a, e)
	}
	return a, nil
}

// pipe checks the field chains a pipeline reads, so that .Lables.pod or
// .Target.Namespce fail when the runbook loads, not at 3 a.m.
func (w *walker) pipe(p *parse.PipeNode, dot reflect.Type) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, arg := range c.Args {
			if err := w.arg(arg, dot); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) arg(n parse.Node, dot reflect.Type) error {
	switch n := n.(type) {
	case *parse.FieldNode:
		if dot != nil {
			return w.chain(n, dot, n.Ident)
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" {
			return w.chain(n, reflect.TypeFor[TemplateData](), n.Ident[1:])
		}
	case *parse.PipeNode:
		return w.pipe(n, dot)
	case *parse.ChainNode:
		if p, ok := n.Node.(*parse.PipeNode); ok {
			return w.pipe(p, dot)
		}
	}
	return nil
}

func (w *walker) chain(n parse.Node, t reflect.Type, idents []string) error {
	for _, id := range idents {
		if m, ok := t.MethodByName(id); ok {
			if m.Type.NumOut() == 0 {
				return nil
			}
			t = m.Type.Out(0)
			continue
		}
		switch t.Kind() {
		case reflect.Map:
			return nil // keys are the alert's, checked when rendered
		case reflect.Struct:
			f, ok := t.FieldByName(id)
			if !ok || !f.IsExported() {
				return w.errorf(n, "%s has no field %s (%s has %s)", t.Name(), id, t.Name(), fieldNames(t))
			}
			t = f.Type
		default:
			return w.errorf(n, "cannot read field %s of a %s", id, t)
		}
	}
	return nil
}

func fieldNames(t reflect.Type) string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

// checkQuery renders a query template on empty data and parses the result,
// so that a syntax error in a runbook's MetricsQL fails the load. A
// template that cannot run on empty data (it needs some label's value) is
// left to render time.
func checkQuery(tmpl *template.Template, t argType) error {
	if t != argPromQL {
		return nil // no LogsQL parser short of VictoriaLogs itself
	}
	dry, err := tmpl.Clone()
	if err != nil {
		return nil
	}
	dry.Option("missingkey=zero")
	q, err := execute(dry, NewTemplateData(Alert{}, Object{}))
	if err != nil {
		return nil
	}
	e, err := metricsql.Parse(q)
	if err != nil {
		return fmt.Errorf("invalid MetricsQL: %v", err)
	}
	if metricsql.IsLikelyInvalid(e) {
		// vmalert refuses such rules for the same reason: rate(sum(x))
		// silently becomes a different query.
		return errors.New("likely invalid MetricsQL: a rollup function over something other than a series selector (rate(sum(x)) rather than sum(rate(x[5m])))")
	}
	return nil
}

// parseDuration reads a Go duration, or a whole number of days ("7d")
// since Prometheus users write those.
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
