package main

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// problem is one thing wrong in a config file, at a line.
type problem struct {
	Line int
	Msg  string
}

// decoder walks a YAML node tree into Go values strictly: unknown keys, wrong types and unset
// ${VARS} become problems with their line, and decoding goes on so every problem is reported
// at once. yaml.v3 parses; this only maps nodes to fields. A struct field named Line (int,
// tagged yaml:"-") receives the line of the node it was decoded from, for later validation;
// one named after a field plus Line (BurstLine) the line of that field's value, and one
// plus Lines ([]int) the line of each item of that field's list.
type decoder struct {
	problems []problem
	getenv   func(string) string
}

func (d *decoder) addf(line int, format string, args ...any) {
	d.problems = append(d.problems, problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeOf(time.Duration(0))

// decode fills v (a pointer) from n; path names the place for messages, e.g. "telegram.mode".
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // an empty value leaves the default
	}
	v = reflect.Indirect(v)
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			nd.decodeNode(d, n, path)
			return
		}
	}
	switch {
	case v.Type() == durationType:
		s, ok := d.scalar(n, path, "a duration such as 30s")
		if !ok {
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			d.addf(n.Line, "%s: %s is not a duration (use e.g. 30s, 5m)", path, quote(path, s))
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case v.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	case v.Kind() == reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.addf(n.Line, "%s: %s is not true or false", path, quote(path, s))
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		s, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d.addf(n.Line, "%s: %s is not a whole number", path, quote(path, s))
			return
		}
		v.SetInt(i)
	case v.Kind() == reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.addf(n.Line, "%s: %s is not a number", path, quote(path, s))
			return
		}
		v.SetFloat(f)
	default:
		panic("config: cannot decode into " + v.Type().String())
	}
}

// scalar returns the node's text with ${VAR}s expanded, or records that a scalar was wanted.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, "%s: expected %s, got %s", path, want, kindName(n, path))
		return "", false
	}
	return d.expand(n, path)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} with the environment's value. An unset variable is a problem: a
// secret silently left empty is worse than a clear error at start.
func (d *decoder) expand(n *yaml.Node, path string) (string, bool) {
	ok := true
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := ref[2 : len(ref)-1]
		val := d.getenv(name)
		if val == "" {
			d.addf(n.Line, "%s: environment variable %s is not set", path, name)
			ok = false
		}
		return val
	})
	return out, ok
}

// nodeDecoder is a config value that decodes itself, with the decoder's helpers: a ci: entry,
// whose type says which struct the rest of its keys go to.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	d.decodeStructAlso(n, v, path, nil)
}

// decodeStructAlso is decodeStruct for a mapping whose keys also (read by the caller) are
// known too: they are listed first among the known keys.
func (d *decoder) decodeStructAlso(n *yaml.Node, v reflect.Value, path string, also []string) {
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(n.Line))
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s: expected a mapping of keys, got %s", orTop(path), kindName(n, path))
		return
	}
	fields := map[string]int{}
	known := append([]string(nil), also...)
	for i := 0; i < v.NumField(); i++ {
		tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		known = append(known, tag)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			d.addf(k.Line, "%s: unknown key %q (known keys: %s)", orTop(path), k.Value, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			d.addf(k.Line, "%s: key %q appears twice", orTop(path), k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(val, v.Field(idx).Addr(), join(path, k.Value))
		d.valueLine(v, v.Type().Field(idx).Name, val)
		d.itemLines(v, v.Type().Field(idx).Name, val)
	}
}

// valueLine fills the field nameLine (int, tagged yaml:"-"), when the struct has one, with
// the line of the value just decoded into field name, so a problem with that one value can
// name its line rather than its mapping's.
func (d *decoder) valueLine(v reflect.Value, name string, n *yaml.Node) {
	if f := v.FieldByName(name + "Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(n.Line))
	}
}

// itemLines fills the field nameLines ([]int, tagged yaml:"-"), when the struct has one,
// with the line of each item of the list just decoded into field name, so a problem with
// one item can name its line.
func (d *decoder) itemLines(v reflect.Value, name string, n *yaml.Node) {
	f := v.FieldByName(name + "Lines")
	if !f.IsValid() || f.Type() != reflect.TypeOf([]int(nil)) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		f.Set(reflect.ValueOf([]int{n.Line})) // a lone value read as a list of one
		return
	}
	lines := make([]int, len(n.Content))
	for i, item := range n.Content {
		lines[i] = item.Line
	}
	f.Set(reflect.ValueOf(lines))
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
		// A lone value where a list of words is expected reads as a list of one:
		// "allow: everyone" as well as "allow: [123, 456]".
		if s, ok := d.expand(n, path); ok {
			v.Set(reflect.ValueOf([]string{s}).Convert(v.Type()))
		}
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, "%s: expected a list, got %s", path, kindName(n, path))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, out.Index(i).Addr(), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s: expected a mapping, got %s", path, kindName(n, path))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if v.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.addf(k.Line, "%s: key %q appears twice", path, k.Value)
			continue
		}
		elem := reflect.New(v.Type().Elem())
		d.decode(val, elem, join(path, k.Value))
		v.SetMapIndex(reflect.ValueOf(k.Value), elem.Elem())
	}
}

// kindName says what a node is, for "expected X, got Y"; a scalar is quoted unless it may be
// a secret.
func kindName(n *yaml.Node, path string) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		if mayBeSecret(path) {
			return "a single value"
		}
		return fmt.Sprintf("%q", n.Value)
	}
}

// secretPaths are the places a config value may be a secret: everything under telegram
// (the token, the webhook secret), database (a URL with a password), relay (its tokens),
// actions and forward (their secrets) and each CI connection's auth and any key of a
// connection whose name says secret, token, password or key (a provider's webhook_secret),
// and the places above them, where a misplaced secret lands when the indentation is wrong
// (the whole file, the ci list, one ci entry).
var secretPaths = regexp.MustCompile(`^(|ci|ci\[\d+\]|(telegram|database|relay|actions|forward|ci\[\d+\]\.(auth|[a-z_]*(secret|token|password|key)[a-z_]*))([.\[].*)?)$`)

// mayBeSecret says whether the value at path must never be quoted in a problem: check-config
// output ends up in terminals, CI logs and bug reports.
func mayBeSecret(path string) bool { return secretPaths.MatchString(path) }

// quote is a value as a problem message shows it: quoted, or "the value" where it may be a
// secret.
func quote(path, value string) string {
	if mayBeSecret(path) {
		return "the value"
	}
	return fmt.Sprintf("%q", value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}
