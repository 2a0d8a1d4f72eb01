import ArgumentParser
import SluiceBase
import SluiceObject

/// `--access-key`, `--secret-key` and `--region`: the S3 credentials of the commands that open
/// an object store by name (`format`, `objbench`). Unset ones fall back to the environment.
struct S3CredentialOptions: ParsableArguments {
    @Option(help: "S3 access key (default: AWS_ACCESS_KEY_ID).")
    var accessKey: String?

    @Option(help: "S3 secret key (default: AWS_SECRET_ACCESS_KEY).")
    var secretKey: String?

    @Option(help: "S3 signing region (default: AWS_REGION, else us-east-1).")
    var region: String?

    /// The options as a store takes them.
    var storeOptions: StoreOptions { StoreOptions(accessKey: accessKey, secretKey: secretKey, region: region) }

    /// Refuses credentials given for a store that takes none, rather than ignoring them.
    func check(storage: String) throws {
        if storage != "s3", accessKey != nil || secretKey != nil || region != nil {
            throw UsageError("--access-key, --secret-key and --region apply to s3 storage only")
        }
    }
}
