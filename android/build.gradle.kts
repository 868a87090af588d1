import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    // AGP 8.13 needs Gradle 8.13+ and JDK 17; Android's docs pair AGP 8.13.2 with Kotlin 2.2.21.
    id("com.android.library") version "8.13.2"
    id("org.jetbrains.kotlin.android") version "2.2.21"
}

android {
    namespace = "org.gofast"
    compileSdk = 35

    defaultConfig {
        // Keep in step with API_LEVEL in build-jnilibs.sh (the API level the .so is linked against).
        minSdk = 24
        // R8 in an app that minifies must keep what JNA reaches by reflection.
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets {
        getByName("main") {
            // The generated gofast.kt and the hand-written Flows.kt are checked in once, under bindings/,
            // for every consumer; the AAR compiles them from there instead of keeping a copy.
            kotlin.srcDir("../bindings/kotlin/src/main/kotlin")
            // libgofast_ffi.so per ABI, written by build-jnilibs.sh and never checked in (the default
            // directory, named here because the AAR is useless without it).
            jniLibs.srcDir("src/main/jniLibs")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    // `api`: the generated classes show JNA's Pointer and coroutines' types in their public signatures.
    // `@aar`: JNA's Android artifact carries libjnidispatch.so for every ABI; the plain jar has none.
    api("net.java.dev.jna:jna:5.19.1@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.10.2")
}

// Without the native libraries the AAR still builds, and an app fails only at run time
// (UnsatisfiedLinkError): stop the build here instead.
val checkJniLibs by tasks.registering {
    // Resolved here, not in the action, so that the action holds no reference to the project.
    val jniLibs = layout.projectDirectory.dir("src/main/jniLibs")
    doLast {
        val missing = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
            .filterNot { jniLibs.file("$it/libgofast_ffi.so").asFile.isFile }
        if (missing.isNotEmpty()) {
            throw GradleException(
                "libgofast_ffi.so missing for ${missing.joinToString()}: run ./build-jnilibs.sh first"
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(checkJniLibs) }
