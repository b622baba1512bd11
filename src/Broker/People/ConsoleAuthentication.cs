using Broker.Admin;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Broker.People;

/// <summary>
/// People sign in to the console with OpenID Connect (code + PKCE) against the configured provider;
/// the session is an HttpOnly, SameSite=Lax cookie that ends after <see cref="ConsoleOptions.SessionHours"/>.
/// </summary>
public static class ConsoleAuthentication
{
    public const string CookieScheme = "Console";
    public const string OidcScheme = "ConsoleOidc";
    /// <summary>Any signed-in person (what they may see is then decided by <see cref="TenantAccess"/>).</summary>
    public const string ConsolePolicy = "Console";

    public static WebApplicationBuilder AddPeople(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<TenantAccess>();
        builder.Services.AddScoped<AuditLog>();
        builder.Services.AddScoped<ConsoleSignIn>();
        var authentication = builder.Services.AddAuthentication().AddCookie(CookieScheme, _ => { });
        builder.Services.AddOptions<CookieAuthenticationOptions>(CookieScheme).Configure<IOptions<ConsoleOptions>>(ConfigureCookie);
        // Without a provider there is no console sign-in (the page says how to configure one); the
        // API, connect flow and metrics work all the same.
        if (builder.Configuration.GetSection(ConsoleOptions.SectionName).Get<ConsoleOptions>()?.Oidc.IsConfigured == true)
        {
            authentication.AddOpenIdConnect(OidcScheme, _ => { });
            builder.Services.AddOptions<OpenIdConnectOptions>(OidcScheme).Configure<IOptions<ConsoleOptions>>(ConfigureOidc);
        }
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ConsolePolicy, p => p.AddAuthenticationSchemes(CookieScheme).RequireAuthenticatedUser());
        return builder;
    }

    private static void ConfigureCookie(CookieAuthenticationOptions o, IOptions<ConsoleOptions> console)
    {
        o.Cookie.Name = "broker.console";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Lax;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest; // Secure behind TLS (forwarded proto)
        o.ExpireTimeSpan = TimeSpan.FromHours(console.Value.SessionHours);
        o.SlidingExpiration = false;
        o.LoginPath = "/console/signin";
        o.AccessDeniedPath = "/console/denied";
        o.ReturnUrlParameter = "returnUrl";
        // The handler builds these redirects absolute from the request's Host, which the client chooses:
        // a forged Host must not turn the sign-in redirect into one to another site.
        o.Events.OnRedirectToLogin = context => RedirectLocally(context);
        o.Events.OnRedirectToAccessDenied = context => RedirectLocally(context);
    }

    private static Task RedirectLocally(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context)
    {
        var target = new Uri(context.RedirectUri, UriKind.RelativeOrAbsolute);
        context.Response.Redirect(target.IsAbsoluteUri ? target.PathAndQuery : context.RedirectUri);
        return Task.CompletedTask;
    }

    private static void ConfigureOidc(OpenIdConnectOptions o, IOptions<ConsoleOptions> console)
    {
        var oidc = console.Value.Oidc;
        o.SignInScheme = CookieScheme;
        o.SignOutScheme = CookieScheme;
        o.Authority = oidc.Authority;
        o.ClientId = oidc.ClientId;
        o.ClientSecret = oidc.ClientSecret;
        o.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        o.ResponseType = OpenIdConnectResponseType.Code;
        o.UsePkce = true;
        o.CallbackPath = "/signin-oidc";
        o.SignedOutCallbackPath = "/signout-callback-oidc";
        o.SignedOutRedirectUri = "/console/signed-out";
        o.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile", "email" }.Concat(oidc.ExtraScopes))
        {
            o.Scope.Add(scope);
        }
        o.MapInboundClaims = false;
        o.SaveTokens = false;
        o.GetClaimsFromUserInfoEndpoint = false;
        o.RemoteAuthenticationTimeout = TimeSpan.FromMinutes(15);
        foreach (var cookie in new[] { o.CorrelationCookie, o.NonceCookie })
        {
            cookie.HttpOnly = true;
            cookie.SameSite = SameSiteMode.Lax;
            cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        }
        o.EventsType = typeof(ConsoleSignIn);
    }
}
