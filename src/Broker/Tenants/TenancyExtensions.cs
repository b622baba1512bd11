using System.Security.Claims;

namespace Broker.Tenants;

public static class TenancyExtensions
{
    public const string TenantPolicy = "Tenant";
    /// <summary>Any credential with a metrics scope: a tenant's key (that tenant), an operator's or the metrics token (every tenant).</summary>
    public const string MetricsPolicy = "MetricsReader";

    public static WebApplicationBuilder AddTenancy(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<TenantProvisioning>();
        builder.Services.AddOptions<Admin.OperatorOptions>().BindConfiguration(Admin.OperatorOptions.SectionName);
        builder.Services.AddAuthentication()
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TenantApiKeyHandler>(TenantApiKeyHandler.SchemeName, null)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, Admin.OperatorTokenHandler>(Admin.OperatorTokenHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            // The short /api/v1/… form acts on the key's own tenant; an operator (authenticated, but of no
            // tenant) is told 403 and uses /api/v1/tenants/{tenant}/… instead.
            .AddPolicy(TenantPolicy, p => p
                .AddAuthenticationSchemes(TenantApiKeyHandler.SchemeName, Admin.OperatorTokenHandler.SchemeName)
                .RequireClaim(TenantApiKeyHandler.TenantIdClaim))
            .AddPolicy(Admin.AdminPolicies.Operator, p => p
                .AddAuthenticationSchemes(Admin.OperatorTokenHandler.SchemeName, TenantApiKeyHandler.SchemeName)
                .RequireClaim(Admin.OperatorTokenHandler.OperatorClaim))
            // Metrics-only credentials authenticate but carry neither claim: 403 on every API route.
            .AddPolicy(TenantApi.ApiPolicy, p => p
                .AddAuthenticationSchemes(Admin.OperatorTokenHandler.SchemeName, TenantApiKeyHandler.SchemeName)
                .RequireAssertion(c => c.User.HasClaim(x => x.Type is Admin.OperatorTokenHandler.OperatorClaim or TenantApiKeyHandler.TenantIdClaim)))
            .AddPolicy(MetricsPolicy, p => p
                .AddAuthenticationSchemes(Admin.OperatorTokenHandler.SchemeName, TenantApiKeyHandler.SchemeName)
                .RequireClaim(KeyScopes.MetricsReaderClaim));
        return builder;
    }

    /// <summary>The tenant whose API key authenticated this request. Only valid behind the Tenant policy.</summary>
    public static Guid TenantId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(TenantApiKeyHandler.TenantIdClaim)
            ?? throw new InvalidOperationException("No tenant on this request; is the endpoint behind the Tenant policy?"));
}
