// Command gotemplate-oracle renders Go text/template + sprig templates exactly as Argo CD does, as a
// test oracle for ferry/gotemplate (a test-only tool, built by hack/tools.sh gotemplate-oracle; never
// shipped). It reads one JSON document on stdin:
//
//	{"cases": [{"template": "...", "data": {...}, "options": ["missingkey=error"],
//	            "funcs": "applicationset" | "notifications", "name": "base", "numbers": "int64" | "float64"}]}
//
// and writes one JSON document on stdout: {"results": [{"output": "...", "error": "..."}]}.
//
// Function maps: "applicationset" is Argo CD's ApplicationSet map (sprig.GenericFuncMap minus env,
// expandenv and getHostByName, plus normalize, slugify, toYaml, fromYaml, fromYamlArray);
// "notifications" is the notifications engine's (sprig.TxtFuncMap minus env and expandenv) with
// Argo CD's time and strings helpers added to the data, as its expression.Spawn does.
// Numbers in data decode as Kubernetes' unstructured objects do ("int64": integers as int64, others
// float64) or as encoding/json does ("float64": every number float64, Argo CD's list generator).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"github.com/gosimple/slug"
	"sigs.k8s.io/yaml"
)

type testCase struct {
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
	Options  []string        `json:"options"`
	Funcs    string          `json:"funcs"`
	Name     string          `json:"name"`
	Numbers  string          `json:"numbers"`
}

type result struct {
	Output string `json:"output"`
	Error  string `json:"error"`
}

func sanitizeName(name string) string {
	invalid := regexp.MustCompile("[^-a-z0-9.]")
	name = strings.ToLower(name)
	name = invalid.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

func slugifyName(args ...any) string {
	maxSize := 50
	smart := true
	name := ""
	for idx, arg := range args {
		switch idx {
		case len(args) - 1:
			name = arg.(string)
		case 0:
			maxSize = arg.(int)
		case 1:
			smart = arg.(bool)
		}
	}
	slug.EnableSmartTruncate = smart
	slug.MaxLength = maxSize
	return slug.Make(sanitizeName(name))
}

func toYAML(v any) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(str string) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func fromYAMLArray(str string) ([]any, error) {
	a := []any{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		return nil, err
	}
	return a, nil
}

func appsetFuncs() template.FuncMap {
	f := sprig.GenericFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	delete(f, "getHostByName")
	f["normalize"] = sanitizeName
	f["slugify"] = slugifyName
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	return f
}

func notificationFuncs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	return f
}

func timeHelpers() map[string]any {
	return map[string]any{
		"Parse": func(timestamp string) time.Time {
			res, err := time.Parse(time.RFC3339, timestamp)
			if err != nil {
				panic(err)
			}
			return res
		},
		"Now":         time.Now,
		"Nanosecond":  time.Nanosecond,
		"Microsecond": time.Microsecond,
		"Millisecond": time.Millisecond,
		"Second":      time.Second,
		"Minute":      time.Minute,
		"Hour":        time.Hour,
		"Layout":      time.Layout,
		"ANSIC":       time.ANSIC,
		"UnixDate":    time.UnixDate,
		"RubyDate":    time.RubyDate,
		"RFC822":      time.RFC822,
		"RFC822Z":     time.RFC822Z,
		"RFC850":      time.RFC850,
		"RFC1123":     time.RFC1123,
		"RFC1123Z":    time.RFC1123Z,
		"RFC3339":     time.RFC3339,
		"RFC3339Nano": time.RFC3339Nano,
		"Kitchen":     time.Kitchen,
		"Stamp":       time.Stamp,
		"StampMilli":  time.StampMilli,
		"StampMicro":  time.StampMicro,
		"StampNano":   time.StampNano,
	}
}

func stringHelpers() map[string]any {
	return map[string]any{
		"ReplaceAll": func(s, old, newV string) string { return strings.ReplaceAll(s, old, newV) },
		"ToUpper":    func(s string) string { return strings.ToUpper(s) },
		"ToLower":    func(s string) string { return strings.ToLower(s) },
	}
}

// convertNumbers turns json.Number into int64 (when integral) or float64, as
// k8s.io/apimachinery's unstructured JSON decoding does, or always float64.
func convertNumbers(v any, mode string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e, mode)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e, mode)
		}
		return x
	case json.Number:
		if mode != "float64" {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func render(c testCase) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = result{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	funcs := appsetFuncs()
	if c.Funcs == "notifications" {
		funcs = notificationFuncs()
	}
	name := c.Name
	if name == "" {
		name = "base"
	}
	var data any
	if len(c.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(c.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return result{Error: "oracle: bad data: " + err.Error()}
		}
	}
	data = convertNumbers(data, c.Numbers)
	if m, ok := data.(map[string]any); ok && c.Funcs == "notifications" {
		m["time"] = timeHelpers()
		m["strings"] = stringHelpers()
	}
	tmpl := template.New(name).Funcs(funcs)
	for _, opt := range c.Options {
		tmpl = tmpl.Option(opt)
	}
	parsed, err := tmpl.Parse(c.Template)
	if err != nil {
		return result{Error: err.Error()}
	}
	var out bytes.Buffer
	if err := parsed.Execute(&out, data); err != nil {
		return result{Output: out.String(), Error: err.Error()}
	}
	return result{Output: out.String()}
}

func main() {
	var input struct {
		Cases []testCase `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		fmt.Fprintln(os.Stderr, "gotemplate-oracle: bad input:", err)
		os.Exit(2)
	}
	results := make([]result, len(input.Cases))
	for i, c := range input.Cases {
		results[i] = render(c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"results": results}); err != nil {
		fmt.Fprintln(os.Stderr, "gotemplate-oracle:", err)
		os.Exit(1)
	}
}
