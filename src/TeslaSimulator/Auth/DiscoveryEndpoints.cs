using System.Text.Json.Nodes;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Hosting;

namespace TeslaSimulator.Auth;

internal static class DiscoveryEndpoints
{
    private const string TeslaAuth = "https://auth.tesla.com";

    public static IEndpointRouteBuilder MapDiscovery(this IEndpointRouteBuilder app)
    {
        app.MapGet("/oauth2/v3/thirdparty/.well-known/openid-configuration", Document);
        app.MapGet("/oauth2/v3/.well-known/openid-configuration", Document);
        app.MapGet("/oauth2/v3/discovery/thirdparty/keys", (SigningKey key) => TypedResults.Json(key.Jwks()));
        app.MapGet("/oauth2/v3/discovery/keys", (SigningKey key) => TypedResults.Json(key.Jwks()));
        return app;
    }

    /// <summary>Tesla's document with every auth.tesla.com URL moved to the configured auth base.</summary>
    private static IResult Document(SimulatorOptions options)
    {
        var doc = Fixture.Object("openid_configuration_thirdparty");
        foreach (var (name, value) in doc.ToList())
        {
            if (value is JsonValue v && v.TryGetValue<string>(out var s) && s.StartsWith(TeslaAuth, StringComparison.Ordinal))
                doc[name] = options.AuthBase + s[TeslaAuth.Length..];
        }
        doc["issuer"] = options.Issuer;
        return TypedResults.Json(doc);
    }
}
