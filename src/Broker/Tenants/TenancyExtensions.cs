using System.Security.Claims;

namespace Broker.Tenants;

public static class TenancyExtensions
{
    public const string TenantPolicy = "Tenant";

    public static WebApplicationBuilder AddTenancy(this WebApplicationBuilder builder)
    {
        builder.Services.AddAuthentication()
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TenantApiKeyHandler>(TenantApiKeyHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(TenantPolicy, p => p
                .AddAuthenticationSchemes(TenantApiKeyHandler.SchemeName)
                .RequireClaim(TenantApiKeyHandler.TenantIdClaim));
        return builder;
    }

    /// <summary>The tenant whose API key authenticated this request. Only valid behind the Tenant policy.</summary>
    public static Guid TenantId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(TenantApiKeyHandler.TenantIdClaim)
            ?? throw new InvalidOperationException("No tenant on this request; is the endpoint behind the Tenant policy?"));
}
