// A standalone Gradle build: the Rust workspace around it is not a Gradle project, and an app takes the
// AAR this build makes (see README.md) rather than including this module in its own build.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

// Names the AAR: build/outputs/aar/gofast-android-release.aar.
rootProject.name = "gofast-android"
