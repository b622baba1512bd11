namespace TeslaSimulator.Auth;

internal static class AuthExtensions
{
    public static WebApplicationBuilder AddAuthServer(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SigningKey>();
        builder.Services.AddSingleton<AuthStore>();
        builder.Services.AddSingleton<TokenIssuer>();
        return builder;
    }

    public static IEndpointRouteBuilder MapAuthServer(this IEndpointRouteBuilder app) =>
        app.MapDiscovery().MapAuthorize().MapToken().MapRevokeConsent();
}
