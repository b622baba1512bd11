using System.Text.Json;
using System.Text.RegularExpressions;

namespace Broker.Tests.Infrastructure;

/// <summary>One query of a dashboard panel, with Grafana's variables replaced by values Prometheus can evaluate.</summary>
public sealed record DashboardQuery(string Panel, string Expr);

/// <summary>Reads the PromQL of a Grafana dashboard JSON (every <c>expr</c>, rows and nested panels included).</summary>
public static partial class GrafanaDashboard
{
    /// <summary>
    /// Every <c>expr</c> under the nearest <c>title</c>, with <c>$name</c>/<c>${name}</c> replaced from
    /// <paramref name="variables"/>. A variable without a value is left in place, so Prometheus rejects it and the test names it.
    /// </summary>
    public static List<DashboardQuery> Queries(string json, IReadOnlyDictionary<string, string> variables)
    {
        using var document = JsonDocument.Parse(json);
        var queries = new List<DashboardQuery>();
        Walk(document.RootElement, "(dashboard)", queries);
        return queries.Select(q => q with { Expr = Variable().Replace(q.Expr, m =>
            variables.TryGetValue(m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["plain"].Value, out var value) ? value : m.Value) })
            .ToList();
    }

    /// <summary>The dashboard's variable queries (<c>templating.list[].query</c>), e.g. <c>label_values(metric, label)</c>.</summary>
    public static List<string> VariableQueries(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("templating", out var templating))
        {
            return [];
        }
        return templating.GetProperty("list").EnumerateArray()
            .Where(v => v.TryGetProperty("type", out var type) && type.GetString() == "query")
            .Select(v => v.GetProperty("query") is { ValueKind: JsonValueKind.Object } q ? q.GetProperty("query").GetString()! : v.GetProperty("query").GetString()!)
            .ToList();
    }

    private static void Walk(JsonElement element, string title, List<DashboardQuery> queries)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (element.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    title = t.GetString()!;
                }
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        queries.Add(new DashboardQuery(title, property.Value.GetString()!));
                    }
                    else if (property.Name != "templating")
                    {
                        Walk(property.Value, title, queries);
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, title, queries);
                }
                break;
        }
    }

    [GeneratedRegex(@"\$\{(?<braced>\w+)(?::\w+)?\}|\$(?<plain>\w+)")]
    private static partial Regex Variable();
}
