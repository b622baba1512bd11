namespace TeslaSimulator.Auth;

internal static class AuthExtensions
{
    public static WebApplicationBuilder AddAuthServer(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SigningKey>(); // the global realm's, shared with /dev-idp
        builder.Services.AddSingleton<SimRealms>();
        builder.Services.AddSingleton<AuthStore>();
        builder.Services.AddSingleton<TokenIssuer>();
        return builder;
    }

    public static IEndpointRouteBuilder MapAuthServer(this IEndpointRouteBuilder app) =>
        app.MapDiscovery().MapAuthorize().MapToken().MapRevokeConsent();
}
