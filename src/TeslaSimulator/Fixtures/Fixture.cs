using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace TeslaSimulator.Fixtures;

/// <summary>Embedded fixture JSON used as response templates. Every call returns a fresh, mutable copy.</summary>
internal static class Fixture
{
    private static readonly ConcurrentDictionary<string, JsonNode> Cache = new();

    public static JsonObject Object(string name) => (JsonObject)Load(name);

    public static JsonNode Load(string name) => Cache.GetOrAdd(name, static n =>
    {
        using var stream = typeof(Fixture).Assembly.GetManifestResourceStream($"Fixtures.{n}.json")
            ?? throw new InvalidOperationException($"Fixture {n}.json is not embedded.");
        return JsonNode.Parse(stream)!;
    }).DeepClone();

    /// <summary>One element of a fixture's "response" array, detached so it can be placed in another document.</summary>
    public static JsonObject Item(string name, int index) => Load(name)["response"]![index]!.DeepClone().AsObject();

    /// <summary>A fixture as an HTTP result with the given status.</summary>
    public static IResult Result(string name, int status) => TypedResults.Json(Load(name), statusCode: status);
}
