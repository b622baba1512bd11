using System.Text.Json.Nodes;
using TeslaSimulator.Fixtures;

namespace TeslaSimulator.Auth;

internal static class DiscoveryEndpoints
{
    private const string TeslaAuth = "https://auth.tesla.com";

    public static IEndpointRouteBuilder MapDiscovery(this IEndpointRouteBuilder app)
    {
        app.MapGet("/oauth2/v3/thirdparty/.well-known/openid-configuration", Document);
        app.MapGet("/oauth2/v3/.well-known/openid-configuration", Document);
        app.MapGet("/oauth2/v3/discovery/thirdparty/keys", (HttpRequest request, SimRealms realms) => TypedResults.Json(realms.Of(request).Key.Jwks()));
        app.MapGet("/oauth2/v3/discovery/keys", (HttpRequest request, SimRealms realms) => TypedResults.Json(realms.Of(request).Key.Jwks()));
        return app;
    }

    /// <summary>Tesla's document with every auth.tesla.com URL moved to the auth base of the realm the request reached.</summary>
    private static IResult Document(HttpRequest request, SimRealms realms)
    {
        var realm = realms.Of(request);
        var doc = Fixture.Object("openid_configuration_thirdparty");
        foreach (var (name, value) in doc.ToList())
        {
            if (value is JsonValue v && v.TryGetValue<string>(out var s) && s.StartsWith(TeslaAuth, StringComparison.Ordinal))
                doc[name] = realm.AuthBase + s[TeslaAuth.Length..];
        }
        doc["issuer"] = realm.Issuer;
        return TypedResults.Json(doc);
    }
}
