package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/promql/promqltest"
)

const seriesFile = "testdata/series.txt"

// dashboard is the part of the Grafana dashboard JSON the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	// Panels are those of a collapsed row.
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

// query is a variable's query: a string, or an object with a query field (Grafana 9+).
func (v variable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct{ Query string }
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// The data source every panel and query uses: the dashboard's datasource variable, so that one import serves any
// Prometheus.
var promDatasource = &datasourceRef{Type: "prometheus", UID: "${datasource}"}

// grafanaVars are the values the queries are evaluated with: $namespace as the "All" option (allValue), the rate
// interval Grafana would pick for a 1m scrape.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$job", releaseName, "$namespace", ".+")

// labelValues is a query variable's label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// loadDashboard returns the dashboard the chart's ConfigMap holds, after checking that it is the chart's
// dashboards/ha-webhook.json as is.
func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	rendered := renderedDashboard(t)
	file, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "ha-webhook.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The ConfigMap's block scalar (|-) drops the final newline only.
	if diff := cmp.Diff(strings.TrimRight(string(file), "\n"), string(rendered)); diff != "" {
		t.Fatalf("the ConfigMap's dashboard differs from dashboards/ha-webhook.json (-file +rendered):\n%s", diff)
	}
	var d dashboard
	if err := json.Unmarshal(rendered, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	return d
}

// allPanels flattens rows: their own panels and, when collapsed, the ones they hold.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// panelQuery is one query of one panel, with Grafana's variables replaced.
type panelQuery struct {
	name, expr string
}

func panelQueries(t *testing.T, d dashboard) []panelQuery {
	t.Helper()
	var out []panelQuery
	for _, p := range allPanels(d.Panels) {
		for _, target := range p.Targets {
			out = append(out, panelQuery{name: fmt.Sprintf("%s/%s", p.Title, target.RefID), expr: expand(t, target.Expr)})
		}
	}
	return out
}

// expand replaces the Grafana variables; one it does not know fails the test.
func expand(t *testing.T, expr string) string {
	t.Helper()
	out := grafanaVars.Replace(expr)
	if strings.Contains(out, "$") {
		t.Errorf("query uses a variable the test does not know: %s", expr)
	}
	return out
}

// Every query of the dashboard parses and evaluates without error or warning on testdata/series.txt, and returns
// series: a metric or label misspelt returns nothing and fails here. The dashboard's structure is what Grafana
// needs: unique panel ids, every panel on the datasource variable, a grid 24 wide.
func TestDashboardQueries(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard needs a uid and a title (the sidecar and links find it by uid), got %q, %q", d.UID, d.Title)
	}
	ids, titles := map[int]string{}, map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		if titles[p.Title] {
			t.Errorf("two panels are titled %q", p.Title)
		}
		ids[p.ID], titles[p.Title] = p.Title, true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v is outside Grafana's 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if diff := cmp.Diff(promDatasource, p.Datasource); diff != "" {
			t.Errorf("panel %q datasource (-want +got):\n%s", p.Title, diff)
		}
		for _, target := range p.Targets {
			if diff := cmp.Diff(promDatasource, target.Datasource); diff != "" {
				t.Errorf("panel %q query %s datasource (-want +got):\n%s", p.Title, target.RefID, diff)
			}
		}
	}

	series, err := os.ReadFile(seriesFile)
	if err != nil {
		t.Fatal(err)
	}
	storage := promqltest.LoadedStorage(t, string(series))
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, promqltest.DefaultMaxSamplesPerQuery)
	start, end := time.Unix(0, 0).Add(10*time.Minute), time.Unix(0, 0).Add(time.Hour)
	p := newParser()

	for _, q := range panelQueries(t, d) {
		t.Run(q.name, func(t *testing.T) {
			if _, err := p.ParseExpr(q.expr); err != nil {
				t.Fatalf("%s does not parse: %v", q.expr, err)
			}
			qry, err := engine.NewRangeQuery(context.Background(), storage, nil, q.expr, start, end, time.Minute)
			if err != nil {
				t.Fatalf("%s: %v", q.expr, err)
			}
			defer qry.Close()
			res := qry.Exec(context.Background())
			if res.Err != nil {
				t.Fatalf("%s: %v", q.expr, res.Err)
			}
			if warnings, infos := res.Warnings.AsStrings(q.expr, 0, 0); len(warnings)+len(infos) > 0 {
				t.Errorf("%s: warnings %q, infos %q", q.expr, warnings, infos)
			}
			m, err := res.Matrix()
			if err != nil {
				t.Fatalf("%s: %v", q.expr, err)
			}
			if len(m) == 0 {
				t.Errorf("%s returns no series on %s", q.expr, seriesFile)
			}
		})
	}

	// The variables: a datasource picker, and label_values queries that find their label on the series.
	for _, v := range d.Templating.List {
		t.Run("variable "+v.Name, func(t *testing.T) {
			switch v.Type {
			case "datasource":
				if v.query() != "prometheus" {
					t.Errorf("datasource variable of type %q, want prometheus", v.query())
				}
				return
			case "query":
			default:
				t.Fatalf("variable of type %q: the test knows datasource and query variables", v.Type)
			}
			m := labelValues.FindStringSubmatch(v.query())
			if m == nil {
				t.Fatalf("query %q is not label_values(selector, label)", v.query())
			}
			selector, label := expand(t, m[1]), m[2]
			qry, err := engine.NewInstantQuery(context.Background(), storage, nil, selector, end)
			if err != nil {
				t.Fatalf("%s: %v", selector, err)
			}
			defer qry.Close()
			vec, err := qry.Exec(context.Background()).Vector()
			if err != nil {
				t.Fatalf("%s: %v", selector, err)
			}
			found := false
			for _, s := range vec {
				found = found || s.Metric.Get(label) != ""
			}
			if !found {
				t.Errorf("%s: no series with label %s on %s", selector, label, seriesFile)
			}
		})
	}

	// Every metric of the contract is on a panel.
	shown := map[string]bool{}
	for name := range dashboardMetrics(t, d) {
		shown[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(contract)) {
		if !shown[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// dashboardMetrics maps every metric name the dashboard's panels and variables read to where.
func dashboardMetrics(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := newParser()
	add := func(where, expr string) {
		e, err := p.ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %s does not parse: %v", where, expr, err)
			return
		}
		for _, vs := range vectorSelectors(e) {
			out[metricName(vs)] = where
		}
	}
	for _, q := range panelQueries(t, d) {
		add("panel "+q.name, q.expr)
	}
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.query()); m != nil {
			add("variable "+v.Name, expand(t, m[1]))
		}
	}
	return out
}
