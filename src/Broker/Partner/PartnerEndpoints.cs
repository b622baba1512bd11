using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Partner;

/// <summary>Body of <c>POST /api/v1/partner/key</c>: empty to generate, a PEM private key to import.</summary>
public sealed record PartnerKeyRequest([property: MaxLength(16_384), MultiLine] string? PrivateKeyPem);

public sealed record PartnerRegistrationRequest([property: MaxLength(8), SingleLine] string? Region);

/// <summary>The public key where Tesla fetches it, and the operator's partner set-up API (<c>/api/v1/partner</c>).</summary>
public static class PartnerEndpoints
{
    public const string PublicKeyPath = "/.well-known/appspecific/com.tesla.3p.public-key.pem";

    public static RouteGroupBuilder MapPartner(this IEndpointRouteBuilder routes)
    {
        // Anonymous on purpose: Tesla downloads it on registration and again when an owner pairs (TESLA.md §4.1).
        routes.MapGet(PublicKeyPath, async Task<Results<ContentHttpResult, NotFound>> (PartnerKeys keys, HttpContext http) =>
            await keys.CurrentAsync(http.RequestAborted) is { } key
                ? TypedResults.Text(key.PublicKeyPem, "application/x-pem-file")
                : TypedResults.NotFound())
            .AllowAnonymous().ExcludeFromDescription();

        var group = routes.MapGroup("/api/v1/partner").RequireAuthorization(AdminPolicies.Operator).WithTags("Partner");

        group.MapGet("/", async (PartnerSetup setup, HttpContext http) => TypedResults.Ok(await setup.GetStatusAsync(http.RequestAborted)));

        group.MapPost("/key", async Task<Results<Ok<PartnerKeyResponse>, ProblemHttpResult>> (PartnerKeyRequest? request, PartnerSetup setup, HttpContext http) =>
            await Attempt(() => request?.PrivateKeyPem is { Length: > 0 } pem
                ? setup.ImportKeyAsync(pem, http.RequestAborted)
                : setup.GenerateKeyAsync(http.RequestAborted)));

        group.MapPost("/registrations", async Task<Results<Ok<IReadOnlyList<PartnerRegistrationResponse>>, ProblemHttpResult>> (
            PartnerRegistrationRequest? request, PartnerSetup setup, HttpContext http) =>
            await Attempt(() => setup.RegisterAsync(request?.Region is { Length: > 0 } r ? r : null, http.RequestAborted)));
        return group;
    }

    private static async Task<Results<Ok<T>, ProblemHttpResult>> Attempt<T>(Func<Task<T>> act)
    {
        try
        {
            return TypedResults.Ok(await act());
        }
        catch (PartnerSetupException ex)
        {
            return TypedResults.Problem(ex.Message, title: ex.Title, statusCode: ex.Status);
        }
    }
}
