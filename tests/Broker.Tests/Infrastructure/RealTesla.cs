using System.Text.Json.Nodes;

namespace Broker.Tests.Infrastructure;

/// <summary>Real Tesla answers from public threads and client libraries (Fixtures/TeslaReal, sources in its SOURCES.md).</summary>
public static class RealTesla
{
    public static string Body(string file) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "TeslaReal", file));

    public static JsonNode Node(string file) => JsonNode.Parse(Body(file))!;

    /// <summary>The answer's <c>response</c>: threads quote some bodies whole and some only inside their envelope.</summary>
    public static JsonNode Response(string file) => Node(file) is JsonObject o && o.ContainsKey("response") ? o["response"]! : Node(file);

    /// <summary>The body as Tesla sends it, in its envelope whether or not the thread quoted that.</summary>
    public static string InEnvelope(string file) =>
        Node(file) is JsonObject o && o.ContainsKey("response") ? Body(file) : new JsonObject { ["response"] = Node(file) }.ToJsonString();
}
