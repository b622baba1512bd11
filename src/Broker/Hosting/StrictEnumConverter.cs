using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.Hosting;

/// <summary>
/// Enums in the API's JSON by name only, in any case, one name per value. The framework's converter also takes numbers
/// (with integers off it still takes "Member,Metrics", a flags sum outside the enum): a role outside member/admin once
/// bound, showed as "member" and was authorised above admin. Written as lower-case names.
/// </summary>
public sealed class StrictEnumConverter : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(ByName<>).MakeGenericType(typeToConvert))!;

    /// <summary>The names a client may send for <paramref name="type"/>, as the API writes them (for the OpenAPI document).</summary>
    public static IEnumerable<string> Names(Type type) => Enum.GetNames(type).Select(n => n.ToLowerInvariant());

    private sealed class ByName<TEnum> : JsonConverter<TEnum> where TEnum : struct, Enum
    {
        private static readonly string[] Known = Enum.GetNames<TEnum>();

        public override TEnum Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            var name = Known.FirstOrDefault(n => n.Equals(text, StringComparison.OrdinalIgnoreCase))
                ?? throw new JsonException($"Expected one of: {string.Join(", ", Names(typeof(TEnum)))}.");
            return Enum.Parse<TEnum>(name);
        }

        public override void Write(Utf8JsonWriter writer, TEnum value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Enum.IsDefined(value) ? value.ToString().ToLowerInvariant() : throw new JsonException($"{typeof(TEnum).Name} {value} is not defined."));
    }
}
