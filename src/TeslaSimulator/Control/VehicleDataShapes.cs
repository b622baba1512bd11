using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using TeslaSimulator.Fixtures;

namespace TeslaSimulator.Control;

/// <summary>
/// How vehicle_data answers for one car deviate from the usual template, as real cars do (fixture
/// vehicle_data_alt.json): paths are <c>section.field</c> or a whole <c>section</c>.
/// <c>Like = "vehicle_data_alt"</c> copies that fixture's oddities onto the live answer: its nulls, the fields
/// it lacks, and its strings where the usual answer has a number. The car's live state still drives every other value.
/// </summary>
internal sealed record VehicleDataShape(string? Like, List<string>? Nulls, List<string>? Omit, Dictionary<string, JsonNode?>? Extra);

internal sealed class VehicleDataShapes
{
    private readonly ConcurrentDictionary<string, VehicleDataShape> _shapes = new(StringComparer.OrdinalIgnoreCase);

    public void Set(string vin, VehicleDataShape shape) => _shapes[vin] = shape;

    public void Clear(string vin) => _shapes.TryRemove(vin, out _);

    public JsonObject Apply(string vin, JsonObject data)
    {
        if (!_shapes.TryGetValue(vin, out var shape)) return data;
        if (shape.Like == "vehicle_data_alt") CopyOddities(Fixture.Object("vehicle_data_alt")["response"]!.AsObject(), Fixture.Object("vehicle_data")["response"]!.AsObject(), data);
        foreach (var path in shape.Nulls ?? []) Set(data, path, null, onlyIfParentExists: true);
        foreach (var path in shape.Omit ?? []) Remove(data, path);
        foreach (var (path, value) in shape.Extra ?? []) Set(data, path, value?.DeepClone(), onlyIfParentExists: false);
        return data;
    }

    private static void CopyOddities(JsonObject alt, JsonObject usual, JsonObject live)
    {
        foreach (var (name, usualNode) in usual)
        {
            if (!live.ContainsKey(name)) continue;
            if (!alt.TryGetPropertyValue(name, out var altNode)) { live.Remove(name); continue; }
            if (usualNode is JsonObject u && altNode is JsonObject a && live[name] is JsonObject l) CopyOddities(a, u, l);
            else if (altNode is null) live[name] = null;
            else if (altNode is JsonValue av && av.TryGetValue<string>(out _) && usualNode is JsonValue uv && !uv.TryGetValue<string>(out _))
                live[name] = altNode.DeepClone();
        }
    }

    private static void Set(JsonObject data, string path, JsonNode? value, bool onlyIfParentExists)
    {
        var (parent, name) = Parent(data, path, create: !onlyIfParentExists);
        if (parent is not null && (!onlyIfParentExists || parent.ContainsKey(name))) parent[name] = value;
    }

    private static void Remove(JsonObject data, string path)
    {
        var (parent, name) = Parent(data, path, create: false);
        parent?.Remove(name);
    }

    private static (JsonObject? Parent, string Name) Parent(JsonObject data, string path, bool create)
    {
        var parts = path.Split('.');
        var node = data;
        foreach (var part in parts[..^1])
        {
            if (node[part] is JsonObject next) node = next;
            else if (create) node = (JsonObject)(node[part] = new JsonObject());
            else return (null, parts[^1]);
        }
        return (node, parts[^1]);
    }
}
